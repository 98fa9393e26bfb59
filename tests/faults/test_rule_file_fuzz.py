"""Fuzzing rule files through ``calsyncd check`` and through a running daemon's reload: never
a traceback, never a leaked secret, never a dead daemon.

Cases start from a valid rule file (like ``rules/examples.yaml``) and are mutated either as
data (keys deleted, duplicated or renamed, values swapped for other types, references, bad
durations, regexes and templates; then ``yaml.safe_dump``) or as text (truncation, tabs,
anchors and merge keys, random bytes including invalid UTF-8 and NUL). Whatever the input,
``check`` exits 0 or 1 and, on 1, prints one ``path:line:col: message`` (or ``path: message``)
line per problem.

The same cases are then fed one after another to one running ``calsyncd run`` — written into
its rules folder as an editor saves, followed by SIGHUP (the file watcher reloads too, after
its debounce; SIGHUP reloads at once, so 500 cases take seconds, not minutes). After each
case the daemon is alive, ``/healthz`` answers 200, a reload was counted and
``calsyncd_config_valid`` says what ``check`` says of the same files: 1 when valid, 0 when
invalid (the old rules go on running). At the end a valid file is accepted again, SIGTERM
stops the daemon with exit 0, and its log holds no traceback and no secret.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from cli.conftest import Project
from daemon.conftest import Daemon
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from calsyncd.cli.app import main
from calsyncd.config import load_config
from calsyncd.errors import ConfigError
from faults.support import Stopwatch, report, running_daemon

SECRET = "hunter2-fuzz-secret"
"""Set in ``$FUZZ_DAV_PASSWORD``; referenced by the rule files; must never be printed."""
FILE_SECRET = "file-secret-value-42"
"""The content of ``secret.txt`` next to the rule file (``${file:secret.txt}``)."""

_LOCATED = re.compile(r"^.+:\d+:\d+: .+$")
_PLAIN = re.compile(r"^.+: .+$")

BASE: dict[str, Any] = {
    "connections": {
        "demo": {"type": "local", "path": "../var/calendars"},
        "holidays": {"type": "ics", "url": "../examples/feeds/holidays.ics"},
        "busy-feed": {"type": "ics", "path": "../var/public/busy.ics"},
        "team": {
            "type": "caldav",
            "url": "https://dav.example.org/",
            "username": "alice",
            "password": "${env:FUZZ_DAV_PASSWORD}",
        },
        "zoom": {
            "type": "zoom",
            "account_id": "acc",
            "client_id": "cid",
            "client_secret": "${file:secret.txt}",
        },
    },
    "rules": [
        {
            "name": "case-dates",
            "source": {"connection": "demo", "calendar": "cases"},
            "target": {"connection": "demo", "calendar": "case-manager"},
            "direction": "two-way",
            "interval": "1m",
            "filter": {
                "include": [{"categories": ["Court Date", "Interview Date"]}],
                "exclude": [{"title": "(?i)^cancel"}],
            },
            "conflict": "merge",
            "guard": {"max_deletes": "25%"},
        },
        {
            "name": "work-busy",
            "source": {"connection": "demo", "calendar": "work"},
            "target": {"connection": "team", "calendar": "personal"},
            "fields": "busy-block",
            "meeting": {"connection": "zoom", "when": "missing"},
        },
        {
            "name": "holidays",
            "source": {"connection": "holidays"},
            "target": {"connection": "demo", "calendar": "personal"},
            "window": {"past": "7d", "future": "400d"},
            "fields": {"title": "Holiday: {title}", "reminders": ["15m"], "show_as": "free"},
        },
    ],
}

BASE_TEXT = yaml.safe_dump(BASE, sort_keys=False)
EXAMPLES = (Path(__file__).parents[2] / "rules" / "examples.yaml").read_bytes()

# -- values ---------------------------------------------------------------------------------

_KEYS = st.sampled_from(
    [
        "name", "type", "url", "path", "password", "token", "client_secret", "connection",
        "calendar", "interval", "window", "past", "future", "fields", "title", "filter",
        "include", "exclude", "reminders", "categories", "guard", "max_deletes", "meeting",
        "direction", "reverse_fields", "paused", "timeout", "max_concurrency", "<<", "",
    ]
)  # fmt: skip

_REFERENCES = st.sampled_from(
    [
        "${env:FUZZ_DAV_PASSWORD}",
        " ${env:FUZZ_DAV_PASSWORD} ",
        "${env:NOT_SET_ANYWHERE}",
        "${env:}",
        "${file:secret.txt}",
        "${file:missing.txt}",
        "${file:.}",
        "${file:/}",
        "${file:~nobody-xyz/secret}",
        "${file:a\x00b}",
        "${file:../../../../../../etc/shadow}",
        "${credential:m365}",
        "${credential:../x}",
        "${bogus:x}",
        "https://${env:FUZZ_DAV_PASSWORD}/",
        "${env:FUZZ_DAV_PASSWORD",
        "${{env:X}}",
    ]
)

_BAD_DURATIONS = st.sampled_from(
    ["0", "0s", "-5m", "5x", "1h30", "1e9999", "nan", "inf", "99999999999999999999w",
     "999999999999d", "1.5.5s", "", " ", "m", "1w2w", "10000000000000000000000", "1_000s"]
)  # fmt: skip

_BAD_REGEXES = st.sampled_from(
    ["(", "[a-", "*", "(?P<x>a)(?P<x>b)", "a{99999999999999}", "a{4294967296}", "(?<=a+)b",
     "\\", "(?i", "(" * 300 + ")" * 300, "a{,5}{2,}", "\\p{L}", "(?(1)a)"]
)  # fmt: skip

_BAD_TEMPLATES = st.sampled_from(
    ["{", "}", "{}", "{0}", "{title!r}", "{title:>10}", "{title.__class__}", "{title[0]}",
     "{nope}", "{{title}", "{title}}", "{ title }", "{title!}", "{:}", "{" * 50, "Court: {title"]
)  # fmt: skip

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**400),
    st.integers(max_value=-(10**18), min_value=-(10**400)),
    st.floats(),
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=10),
    st.sampled_from(["keep", "drop", "busy-block", "two-way", "local", "ics", "caldav", "zoom",
                     "google", "microsoft", "50%", "100.5%", "-1", "demo", "team", "Demo",
                     "demo\n", "a" * 300, "\t", "\U0001f600", "~", "yes", "null"]),
    _REFERENCES,
    _BAD_DURATIONS,
    _BAD_REGEXES,
    _BAD_TEMPLATES,
)  # fmt: skip


def _deep(depth: int) -> Any:
    value: Any = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(_KEYS, st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=8,
) | st.integers(min_value=1, max_value=200).map(_deep)

# -- structured mutations ---------------------------------------------------------------------


def _containers(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a dict or list in ``node`` (``()`` is the root)."""
    out = [path]
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, dict | list):
            out.extend(_containers(value, (*path, key)))
    return out


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    doc: Any = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        if not isinstance(doc, dict | list):
            break
        paths = _containers(doc)
        target = _at(doc, draw(st.sampled_from(paths)))
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        op = draw(st.sampled_from(["delete", "duplicate", "rename", "replace", "add", "root"]))
        if op == "root":
            doc = draw(_VALUES)
            continue
        if not keys or op == "add":
            if isinstance(target, dict):
                target[draw(st.one_of(_KEYS, st.text(max_size=10)))] = draw(_VALUES)
            else:
                target.append(draw(_VALUES))
            continue
        key = draw(st.sampled_from(keys))
        if op == "delete":
            del target[key]
        elif op == "duplicate":
            if isinstance(target, dict):
                target[f"{key}-copy" if draw(st.booleans()) else draw(_KEYS)] = copy.deepcopy(
                    target[key]
                )
            else:
                target.append(copy.deepcopy(target[key]))
        elif op == "rename" and isinstance(target, dict):
            target[draw(st.one_of(_KEYS, st.text(max_size=10)))] = target.pop(key)
        else:
            target[key] = draw(_VALUES)
    text = yaml.safe_dump(doc, sort_keys=draw(st.booleans()), allow_unicode=draw(st.booleans()))
    return text.encode("utf-8")


# -- text mutations ---------------------------------------------------------------------------

_SNIPPETS = st.sampled_from(
    [
        "\t", "  ", "\n", ":", ": ", "- ", "{", "}", "[", "]", "'", '"', "#", "&a ", "*a", "*nope",
        "<<: *a\n", "!!python/object:os.system ", "!!binary ", "!custom ", "!!set ", "? ", "|",
        ">", "%YAML 1.1\n", "---\n", "...\n", "\x00", "\ufeff", "\u2028", "\x85", "${env:",
        "${env:FUZZ_DAV_PASSWORD}", "\\", "&a [*a]", "!!timestamp ", "2024-01-01 ", "0x1F ",
    ]
)  # fmt: skip

_HANDWRITTEN = [
    # anchors, aliases and merge keys
    b"base: &b {type: local, path: x}\nconnections:\n  one: {<<: *b}\n  two:\n    <<: *b\n"
    b"    path: y\n",
    b"connections:\n  a: &a {type: local, path: *a}\n",
    b"connections: &c\n  a: *c\n",
    b"rules: &r\n  - *r\n",
    b"connections:\n  a:\n    <<: [*nope]\n",
    b"connections:\n  a:\n    <<: 5\n",
    b"connections:\n  a:\n    <<: [1, 2]\n",
    b"x: &x [a, b]\nconnections:\n  c: {<<: *x}\n",
    # keys that are not text
    b"connections:\n  [a, b]: {type: local, path: x}\n",
    b"connections:\n  ? {a: 1}\n  : {type: local, path: x}\n",
    b"connections:\n  1: {type: local, path: x}\n  null: {type: local, path: y}\n",
    b"connections:\n  2024-01-01: {type: local, path: x}\n",
    # tags and odd scalars
    b"connections: !!python/object/apply:os.system [echo hi]\n",
    b"connections: !!set {a, b}\n",
    b"connections: !!omap [a: 1]\n",
    b"rules: !!binary aGVsbG8=\n",
    b"rules:\n  - name: !!float x\n",
    b"rules:\n  - name: .nan\n    interval: .inf\n",
    b"rules:\n  - {name: a, source: {connection: a}, target: {connection: b}, interval: 1e400}\n",
    b"rules:\n  - {name: a, source: {connection: a}, target: {connection: b},"
    b" interval: 99999999999999999999}\n",
    b"rules:\n  - {name: a, source: {connection: a}, target: {connection: b},"
    b" window: {past: 9999999999999w}}\n",
    b"rules:\n  - {name: a, source: {connection: a}, target: {connection: b},"
    b" fields: {reminders: [999999999999999999999d]}}\n",
    b"connections:\n  t: {type: caldav, url: 'https://x/', timeout: 1e308}\n",
    # documents and syntax
    b"---\nrules: []\n---\nrules: []\n",
    b"rules:\n\t- name: a\n",
    b"connections: {a: ${env:FUZZ_DAV_PASSWORD}}\n",
    b"rules: [" * 200,
    b"[" * 2000 + b"]" * 2000,
    b"{a: " * 2000 + b"}" * 2000,
    b"- " * 3000 + b"x\n",
    b"\xff\xfe\x00r\x00u\x00l\x00e\x00s\x00",
    b"rules: \xc3\x28\n",
    b"rules: []\x00\n",
    b"\xef\xbb\xbfrules: []\n",
    b"",
    b"# only a comment\n",
    b"~\n",
    b"42\n",
    b'rules: "\\0"\n',
    b'connections:\n  x: {type: ics, path: "a\\0b"}\n',
    b'connections:\n  x: {type: local, path: "\\0"}\n',
]


@st.composite
def text_mutations(draw: st.DrawFn) -> bytes:
    start = draw(st.sampled_from([BASE_TEXT.encode(), EXAMPLES]))
    data = bytearray(start)
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        pos = draw(st.integers(min_value=0, max_value=len(data)))
        op = draw(st.sampled_from(["truncate", "insert", "delete", "bytes", "replace-line"]))
        if op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(_SNIPPETS).encode()
        elif op == "delete":
            del data[pos : pos + draw(st.integers(min_value=1, max_value=20))]
        elif op == "bytes":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            lines = bytes(data).split(b"\n")
            index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            indent = len(lines[index]) - len(lines[index].lstrip())
            value = yaml.safe_dump(draw(_VALUES), default_flow_style=True).strip()
            lines[index] = b" " * indent + draw(_KEYS).encode() + b": " + value.encode()
            data = bytearray(b"\n".join(lines))
    return bytes(data)


rule_files = st.one_of(
    mutated_documents(),
    text_mutations(),
    st.sampled_from(_HANDWRITTEN),
    st.binary(max_size=200),
)

LEAKING_NAMES = b"""\
connections:
  demo: {type: local, path: x}
rules:
  - name: ${env:FUZZ_DAV_PASSWORD}
    source: {connection: "${env:FUZZ_DAV_PASSWORD}"}
    target: {connection: demo, calendar: b}
  - name: ${env:FUZZ_DAV_PASSWORD}
    source: {connection: demo, calendar: a}
    target: {connection: demo, calendar: b}
    meeting: {connection: "${env:FUZZ_DAV_PASSWORD}"}
"""

# -- the test ---------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CALSYNCD_") or name in {
            "CREDENTIALS_DIRECTORY",
            "STATE_DIRECTORY",
        }:
            monkeypatch.delenv(name)
    monkeypatch.setenv("FUZZ_DAV_PASSWORD", SECRET)
    monkeypatch.chdir(tmp_path)


def check_rule_file(content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "rules").mkdir()
        (root / "rules" / "fuzzed.yaml").write_bytes(content)
        (root / "rules" / "secret.txt").write_text(FILE_SECRET + "\n")
        settings_file = root / "calsyncd.yaml"
        settings_file.write_text("rules: rules\nstate: state/calsyncd.db\nlog: {level: info}\n")
        code = main(["--config", str(settings_file), "check"])
    out, err = capsys.readouterr()
    assert code in {0, 1}, (code, out, err)
    for text in (out, err):
        assert "Traceback" not in text, text
        assert SECRET not in text, text
        assert FILE_SECRET not in text, text
    if code == 1:
        lines = err.splitlines()
        assert lines, "exit code 1 without a problem"
        for line in lines:
            assert _LOCATED.match(line) or _PLAIN.match(line), line
    else:
        assert out.startswith("ok: "), out


F = TypeVar("F", bound=Callable[..., None])


def known_cases(test: F) -> F:
    """The base document and the inputs the fuzzer found that once crashed `check` or broke
    its output, always tried first."""
    for content in (
        BASE_TEXT.encode(),
        b"\x00",  # ReaderError: a two-line message
        b"[" * 2000,  # RecursionError in PyYAML's composer
        b"rules:\n  - {interval: 99999999999999999999}\n",  # OverflowError
        b"rules:\n  - {window: {past: 9999999999999w}}\n",  # OverflowError
        b"rules:\n  - name: !!float x\n",  # ValueError from SafeConstructor
        b"rules:\n  - {name: a, interval: 2024-13-45}\n",  # ValueError (a date)
        b'rules:\n  - {"a\\nb": 1}\n',  # a key with a line break in a message
        b"name: ${file:~0}\n",  # RuntimeError from expanduser
        b'name: "${file:\\0}"\n',  # ValueError: embedded null byte
        LEAKING_NAMES,  # a secret echoed as a rule or connection name
    ):
        test = example(content=content)(test)
    return test


FUZZ_SETTINGS = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ_SETTINGS
@given(content=rule_files)
@known_cases
def test_check_never_crashes_on_mutated_rule_files(
    content: bytes, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    check_rule_file(content, capsys)


@pytest.mark.parametrize("content", _HANDWRITTEN)
def test_check_handwritten_cases(
    content: bytes, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    check_rule_file(content, capsys)


def test_the_base_document_is_valid(capsys: pytest.CaptureFixture[str], clean_env: None) -> None:
    check_rule_file(BASE_TEXT.encode(), capsys)
    assert capsys.readouterr().err == ""


# -- the same cases through a running daemon's reload ----------------------------------------


@dataclass
class ReloadingDaemon:
    """A running daemon whose one rule file the cases replace; what it was fed so far."""

    daemon: Daemon
    project: Project
    http: httpx.Client
    valid: int = 0
    invalid: int = 0
    clock: Stopwatch = field(default_factory=Stopwatch)

    @property
    def rule_file(self) -> Path:
        return self.project.root / "rules" / "fuzzed.yaml"

    def reload_metrics(self) -> tuple[float, bool]:
        """Reloads counted so far (ok + error) and whether the configuration is valid."""
        reloads, valid = 0.0, False
        for line in self.http.get("/metrics").text.splitlines():
            if line.startswith("calsyncd_config_reload_total{"):
                reloads += float(line.rpartition(" ")[2])
            elif line.startswith("calsyncd_config_valid "):
                valid = float(line.rpartition(" ")[2]) == 1
        return reloads, valid

    def expected_valid(self) -> bool:
        """What ``check`` says of the project as it is now (the same loader, in process)."""
        try:
            load_config(self.project.config)
        except ConfigError:
            return False
        return True

    def feed(self, content: bytes) -> None:
        """Save ``content`` as an editor does, SIGHUP, and wait until the daemon reloaded it:
        a reload is counted and ``calsyncd_config_valid`` says what ``check`` says."""
        before, _ = self.reload_metrics()
        temporary = self.rule_file.with_name(".fuzzed.yaml.tmp")
        temporary.write_bytes(content)
        os.replace(temporary, self.rule_file)
        valid = self.expected_valid()
        self.daemon.signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while True:
            reloads, now_valid = self.reload_metrics()
            if reloads > before and now_valid == valid:
                break
            assert time.monotonic() < deadline, f"no reload saying valid={valid}"
            time.sleep(0.002)
        assert self.daemon.process.poll() is None, self.daemon.text[-4000:]
        assert self.http.get("/healthz").status_code == 200
        if valid:
            self.valid += 1
        else:
            self.invalid += 1


@pytest.fixture(scope="module")
def reloading(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReloadingDaemon]:
    """One ``calsyncd run`` for the module, on the base document; this process sees the same
    environment (secrets, no ``CALSYNCD_*``, ``HOME``) to say what each case should give."""
    project = Project(tmp_path_factory.mktemp("reload-fuzz"))
    for folder in ("config", "rules", "state", "var/calendars"):
        (project.root / folder).mkdir(parents=True)
    (project.root / "rules" / "secret.txt").write_text(FILE_SECRET + "\n")
    (project.root / "rules" / "fuzzed.yaml").write_text(BASE_TEXT)
    with (
        pytest.MonkeyPatch.context() as patch,
        running_daemon(project, interval="1h", FUZZ_DAV_PASSWORD=SECRET) as daemon,
        httpx.Client(base_url=daemon.url(""), trust_env=False, timeout=10) as http,
    ):
        for name in [n for n in os.environ if n.startswith("CALSYNCD_")]:
            patch.delenv(name)
        patch.delenv("CREDENTIALS_DIRECTORY", raising=False)
        patch.setenv("FUZZ_DAV_PASSWORD", SECRET)
        patch.setenv("HOME", str(project.root))
        yield ReloadingDaemon(daemon, project, http)


@FUZZ_SETTINGS
@given(content=rule_files)
@known_cases
def test_a_running_daemon_survives_every_mutated_rule_file(
    content: bytes, reloading: ReloadingDaemon
) -> None:
    reloading.feed(content)


def test_after_the_fuzz_the_daemon_takes_a_valid_file_and_stops_cleanly(
    reloading: ReloadingDaemon,
) -> None:
    daemon = reloading.daemon
    reloading.feed(BASE_TEXT.encode())
    assert set(daemon.status()["rules"]) == {"case-dates", "work-busy", "holidays"}
    assert daemon.stop(timeout=30) == 0
    output = daemon.text
    tracebacks = output.count("Traceback")
    assert tracebacks == 0, output[-4000:]
    assert SECRET not in output
    assert FILE_SECRET not in output
    report(
        "rule-file-fuzz-daemon",
        cases=reloading.valid + reloading.invalid,
        valid=reloading.valid,
        invalid=reloading.invalid,
        healthz_200_after_each=reloading.valid + reloading.invalid,
        tracebacks=tracebacks,
        time=reloading.clock,
    )
