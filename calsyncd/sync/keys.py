"""Deterministic idempotency keys for copies.

A copy's key depends only on the rule, the side holding the original and the original's UID,
so a create retried after a crash (or with a lost state database) names the same object and
cannot make a second copy. The alphabet is base32hex in lower case (``0-9a-v``), which every
provider accepts as an id (Google requires it for client-chosen event ids).
"""

from __future__ import annotations

import base64
import hashlib

from calsyncd.state.store import Side


def copy_key(rule: str, origin: Side, origin_uid: str) -> str:
    """The key of the copy of ``origin_uid`` (on side ``origin``) made by ``rule``."""
    digest = hashlib.sha256(f"{rule}\0{origin}\0{origin_uid}".encode()).digest()
    return "cs" + base64.b32hexencode(digest[:20]).decode("ascii").lower()
