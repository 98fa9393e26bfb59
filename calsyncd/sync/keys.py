"""Deterministic keys and UIDs for copies.

A copy's key depends only on the rule, the side holding the original and the original's UID,
so a create retried after a crash (or with a lost state database) names the same object and
cannot make a second copy. The alphabet is base32hex in lower case (``0-9a-v``), which every
provider accepts as an id (Google requires it for client-chosen event ids). A copy's UID is
made from its key (``{key}@calsyncd``), so it is unique wherever the key is — also on servers
that allow a UID once per account (Cyrus, iCloud) — unless the rule keeps UIDs (``uid: keep``).

Two kinds of copies:

- A *marked* copy names its rule and its original's UID in its marker. Its key is a plain
  SHA-256 of (rule, side, UID): anyone can compute it, which hides nothing, and need not.
- An *anonymous* copy (a busy block, a copy into a calendar others read) carries its key and
  nothing else, and the key is *opaque*: HMAC-SHA256 under the deployment's secret, so whoever
  has only the copy can neither tell which original, calendar or rule it comes from nor
  confirm a guess (a UID and a rule name) — without the secret every key looks random. The
  key is 15 bytes naming the original plus 5 bytes that let the rule holding the secret tell
  its own copies from others' (orphans can then be found without the original).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from calsyncd.model.event import Marker
from calsyncd.state.store import Side

_PREFIX = "cs"
_ITEM_BYTES = 15
_TAG_BYTES = 5
UID_DOMAIN = "calsyncd"
"""What follows the ``@`` of a copy's own UID."""


def copy_key(rule: str, origin: Side, origin_uid: str) -> str:
    """The key of the marked copy of ``origin_uid`` (on side ``origin``) made by ``rule``."""
    digest = hashlib.sha256(f"{rule}\0{origin}\0{origin_uid}".encode()).digest()
    return _encode(digest[:20])


def anonymous_key(secret: bytes, rule: str, origin: Side, origin_uid: str) -> str:
    """The opaque key of the anonymous copy of ``origin_uid`` made by ``rule``."""
    item = _mac(secret, "copy", rule, origin, origin_uid)[:_ITEM_BYTES]
    return _encode(item + _tag(secret, rule, item))


def is_anonymous_key_of(secret: bytes, rule: str, key: str) -> bool:
    """Whether ``key`` is the opaque key of a copy made by ``rule`` under ``secret``."""
    if not key.startswith(_PREFIX):
        return False
    try:
        raw = base64.b32hexdecode(key[len(_PREFIX) :].upper())
    except (binascii.Error, ValueError):
        return False
    if len(raw) != _ITEM_BYTES + _TAG_BYTES:
        return False
    item, tag = raw[:_ITEM_BYTES], raw[_ITEM_BYTES:]
    return hmac.compare_digest(tag, _tag(secret, rule, item))


def copy_uid(key: str) -> str:
    """The UID a copy with ``key`` gets when it does not keep its original's."""
    return f"{key}@{UID_DOMAIN}"


def _mac(secret: bytes, *parts: str) -> bytes:
    if not secret:
        raise ValueError("anonymous copy keys need the deployment's secret")
    message = "\0".join(("calsyncd", *parts)).encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def _tag(secret: bytes, rule: str, item: bytes) -> bytes:
    return _mac(secret, "rule", rule, item.hex())[:_TAG_BYTES]


def _encode(raw: bytes) -> str:
    return _PREFIX + base64.b32hexencode(raw).decode("ascii").lower()


def _other(side: Side) -> Side:
    return "target" if side == "source" else "source"


@dataclass(frozen=True, slots=True)
class CopyKeys:
    """How one rule names its copies: their keys, UIDs and markers, and which are its own.

    ``anonymous`` holds the sides whose copies are anonymous; ``secret`` is the deployment's
    (needed only for those); ``keep_uids`` gives marked copies their original's UID.
    """

    rule: str
    anonymous: frozenset[Side] = frozenset()
    secret: bytes = b""
    keep_uids: bool = False

    def key(self, origin: Side, origin_uid: str) -> str:
        """The key the copy of ``origin_uid`` (an original on ``origin``) has."""
        if _other(origin) in self.anonymous:
            return anonymous_key(self.secret, self.rule, origin, origin_uid)
        return copy_key(self.rule, origin, origin_uid)

    def earlier_key(self, origin: Side, origin_uid: str) -> str | None:
        """The key a copy made before it became anonymous has (a marked copy's), if other."""
        if _other(origin) in self.anonymous:
            return copy_key(self.rule, origin, origin_uid)
        return None

    def marker(self, origin: Side, origin_uid: str, key: str) -> Marker:
        """The marker of the copy of ``origin_uid`` made with ``key``."""
        if _other(origin) in self.anonymous:
            return Marker.anonymous(key)
        return Marker(rule=self.rule, origin=origin_uid, key=key)

    def uid(self, origin: Side, origin_uid: str, key: str) -> str:
        """The UID a new copy of ``origin_uid`` gets."""
        if self.keep_uids and _other(origin) not in self.anonymous:
            return origin_uid
        return copy_uid(key)

    def owns(self, marker: Marker) -> bool:
        """Whether ``marker`` is one of this rule's copies."""
        if marker.rule is not None:
            return marker.rule == self.rule
        return bool(self.secret) and is_anonymous_key_of(self.secret, self.rule, marker.key)
