"""Cyrus IMAP's CalDAV server (Debian 12: ``cyrus-imapd`` + ``cyrus-caldav`` 3.6) for the tests.

Cyrus runs as its own ``master`` process with a private ``imapd.conf`` and ``cyrus.conf`` in a
scratch folder holding its configuration directory and mail spool — never the system's
``/etc/imapd.conf`` or ``/var/spool/cyrus``. ``master`` serves two services on loopback
ports: ``httpd`` (CalDAV, the server under test) and ``imapd`` (only to provision the user).

Cyrus refuses to run as root ("must run as the Cyrus user"). As root, ``master`` drops to the
``cyrus`` user the packages create, so the scratch folder is a fresh directory in the system
temp folder owned by that user (a pytest folder is ``0700 root``: the ``cyrus`` user cannot
enter it); it is removed when the server stops. As anyone else, Cyrus runs as that user
(``cyrus_user``) in the folder the test gives.

Authentication is real Basic auth checked by SASL with ``sasl_pwcheck_method: alwaystrue``
(any password is accepted: a throwaway user on loopback). A user's calendar home exists once
their INBOX does: one IMAP ``LOGIN`` creates it (``autocreate_quota: 0``), and the first
CalDAV request then creates the ``Default``, ``Inbox`` and ``Outbox`` calendars. Invitations
are never mailed: ``sendmail`` is ``/bin/true``.

Cyrus logs to syslog only, which a test machine often lacks. With
``CALSYNCD_TEST_CYRUS_LOG=1`` every HTTP exchange of the test user is written to
``conf/log/alice/`` in the scratch folder (Cyrus's per-user telemetry log), which is then
kept after the server stops.
"""

from __future__ import annotations

import contextlib
import getpass
import imaplib
import os
import pwd
import shutil
import tempfile
from pathlib import Path

BIN = Path("/usr/lib/cyrus/bin")
MASTER = BIN / "master"
HTTPD = BIN / "httpd"
PACKAGES = "cyrus-imapd cyrus-caldav"
LOG_ENV = "CALSYNCD_TEST_CYRUS_LOG"

_IMAPD_CONF = """\
configdirectory: {root}/conf
proc_path: {root}/conf/proc
mboxname_lockpath: {root}/conf/lock
lmtpsocket: {root}/conf/socket/lmtp
idlesocket: {root}/conf/socket/idle
notifysocket: {root}/conf/socket/notify
sievedir: {root}/conf/sieve
defaultpartition: default
partition-default: {root}/spool
cyrus_user: {user}
servername: localhost
httpmodules: caldav
allowplaintext: yes
sasl_pwcheck_method: alwaystrue
autocreate_quota: 0
sendmail: /bin/true
"""

_CYRUS_CONF = """\
START {{
  recover cmd="ctl_cyrusdb -C {root}/imapd.conf -r"
}}
SERVICES {{
  http cmd="httpd -C {root}/imapd.conf" listen="127.0.0.1:{http}" prefork=1
  imap cmd="imapd -C {root}/imapd.conf" listen="127.0.0.1:{imap}" prefork=0
}}
EVENTS {{
}}
DAEMON {{
}}
"""

_FOLDERS = ("conf/db", "conf/proc", "conf/lock", "conf/socket", "conf/sieve", "conf/log", "spool")


def missing() -> str | None:
    """Why Cyrus cannot run here, or ``None`` when it can."""
    if not (MASTER.is_file() and HTTPD.is_file()):
        return f"Cyrus IMAP is not installed (apt-get install {PACKAGES}; `make test` does it)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("cyrus")
        except KeyError:
            return "the cyrus user does not exist (the cyrus-common package creates it)"
    return None


def scratch(folder: Path) -> Path:
    """The folder Cyrus keeps its configuration and spool in (see the module docs)."""
    if os.geteuid() != 0:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    root = Path(tempfile.mkdtemp(prefix="calsyncd-cyrus-"))
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        (folder / "cyrus-root").symlink_to(root)  # where to look, from the test's folder
    return root


def configure(root: Path, http_port: int, imap_port: int, user: str) -> list[str]:
    """Write the configuration into ``root``; returns the command that starts ``master``."""
    for name in _FOLDERS:
        (root / name).mkdir(parents=True, exist_ok=True)
    if os.environ.get(LOG_ENV):
        (root / "conf" / "log" / user).mkdir(exist_ok=True)
    owner = "cyrus" if os.geteuid() == 0 else getpass.getuser()
    (root / "imapd.conf").write_text(_IMAPD_CONF.format(root=root, user=owner))
    (root / "cyrus.conf").write_text(_CYRUS_CONF.format(root=root, http=http_port, imap=imap_port))
    if os.geteuid() == 0:
        account = pwd.getpwnam("cyrus")
        for path in [root, *root.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)
    return [
        str(MASTER),
        "-C",
        str(root / "imapd.conf"),
        "-M",
        str(root / "cyrus.conf"),
        "-p",
        str(root / "master.pid"),
        "-D",  # stay in the foreground, output to the server log
    ]


def provision(imap_port: int, user: str, password: str, timeout: float) -> bool:
    """Log ``user`` in over IMAP once, which creates their INBOX (and so their calendar
    home); ``False`` while the service does not answer yet."""
    try:
        with imaplib.IMAP4("127.0.0.1", imap_port, timeout=timeout) as imap:
            imap.login(user, password)
            imap.logout()
    except (OSError, imaplib.IMAP4.error):
        return False
    return True


def remove(root: Path, folder: Path) -> None:
    """Remove the scratch folder made for a root run (unless its log is wanted)."""
    if root != folder and not os.environ.get(LOG_ENV):
        shutil.rmtree(root, ignore_errors=True)
