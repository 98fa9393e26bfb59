"""``auth google``: let calsyncd use a Google account (installed-app flow, token file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calsyncd.cli.app import command
from calsyncd.errors import AuthError


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("provider", choices=["google"], help="the account's provider")
    parser.add_argument(
        "--client-secrets",
        type=Path,
        required=True,
        metavar="FILE",
        help="the OAuth client file (type Desktop app) from the Google Cloud console",
    )
    parser.add_argument(
        "--token",
        type=Path,
        required=True,
        metavar="FILE",
        help="where to write the token file (mode 0600): the connection's credentials",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="loopback port of the redirect (default: a free one)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="print the consent URL, open no browser"
    )


@command(
    "auth",
    "authorize calsyncd for an account (google: consent in a browser, then a token file)",
    _configure,
)
def auth(args: argparse.Namespace) -> int:
    """Exit 0 once the token file is written, 1 with the reason otherwise."""
    # only this command needs the Google libraries: no import cost for the others
    from calsyncd.providers.google.credentials import authorize_installed_app  # noqa: PLC0415

    token: Path = args.token
    try:
        authorize_installed_app(
            args.client_secrets, token, port=args.port, open_browser=not args.no_browser
        )
    except AuthError as exc:
        print(exc, file=sys.stderr)
        return 1
    except Exception as exc:  # oauthlib, requests, sockets: a message, never a traceback
        print(f"authorization failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {token} (mode 0600); use it as the google connection's credentials")
    return 0
