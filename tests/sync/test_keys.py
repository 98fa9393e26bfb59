"""Copy keys and UIDs (``calsyncd.sync.keys``): what a copy's key tells whoever holds it.

A marked copy's key is a plain hash anyone can recompute — it names its original in the clear
anyway. An anonymous copy's key is opaque: without the deployment's secret, nothing about the
original or the rule can be read from it or confirmed by a guess, while the rule holding the
secret recognises its own copies without knowing their originals.
"""

from __future__ import annotations

import hashlib
import itertools

import pytest

from calsyncd.model.event import Marker
from calsyncd.sync.keys import (
    CopyKeys,
    anonymous_key,
    copy_key,
    copy_uid,
    is_anonymous_key_of,
)

SECRET = bytes(range(32))
RULE = "publish-busy"
UID = "dentist-2027@home.example"


def guesses(rule: str, uid: str) -> set[str]:
    """Keys someone who knows the rule's name and guessed the UID can compute without the
    secret: the marked key, hashes of the same parts, HMACs under empty or obvious keys."""
    parts = [rule, "source", uid]
    found = {copy_key(rule, side, uid) for side in ("source", "target")}
    for sep in ("\0", "", ":", "/"):
        text = sep.join(parts).encode()
        for algorithm in ("sha256", "sha1", "md5", "sha512"):
            digest = hashlib.new(algorithm, text).digest()
            found.add("cs" + digest[:20].hex())
    for secret in (b"\0" * 32, rule.encode(), uid.encode(), b"calsyncd"):
        found.add(anonymous_key(secret, rule, "source", uid))
    return found


def test_marked_keys_are_plain_hashes_anyone_can_recompute() -> None:
    """Marked copies name their original in their marker: a confirmable key hides nothing."""
    key = copy_key(RULE, "source", UID)
    assert key == copy_key(RULE, "source", UID)
    assert key.startswith("cs")
    assert len(key) == 34
    assert set(key[2:]) <= set("0123456789abcdefghijklmnopqrstuv")


def test_an_opaque_key_cannot_be_confirmed_by_a_guess() -> None:
    key = anonymous_key(SECRET, RULE, "source", UID)
    assert key not in guesses(RULE, UID)
    # Same shape as a marked key: nothing tells the two kinds apart either.
    assert key.startswith("cs")
    assert len(key) == len(copy_key(RULE, "source", UID))
    for text in (RULE, UID, "dentist", "home.example", "source"):
        assert text not in key
        assert text not in copy_uid(key)


def test_an_opaque_key_depends_on_every_part_and_the_secret() -> None:
    base = anonymous_key(SECRET, RULE, "source", UID)
    variants = {
        anonymous_key(bytes(32), RULE, "source", UID),
        anonymous_key(SECRET, "work-busy", "source", UID),
        anonymous_key(SECRET, RULE, "target", UID),
        anonymous_key(SECRET, RULE, "source", "climbing@home.example"),
    }
    assert base not in variants
    assert len(variants) == 4
    assert anonymous_key(SECRET, RULE, "source", UID) == base  # deterministic


def test_an_opaque_key_tells_its_rule_and_nothing_else_can() -> None:
    """With the secret, a rule recognises its copies (orphans can be found); another rule, or
    the same rule under another secret, cannot; nor can a marked key pass for one."""
    uids = [f"event-{n}@example" for n in range(200)]
    keys = [anonymous_key(SECRET, RULE, "source", uid) for uid in uids]
    assert all(is_anonymous_key_of(SECRET, RULE, key) for key in keys)
    assert not any(is_anonymous_key_of(SECRET, "work-busy", key) for key in keys)
    assert not any(is_anonymous_key_of(bytes(32), RULE, key) for key in keys)
    assert not any(is_anonymous_key_of(SECRET, RULE, copy_key(RULE, "source", u)) for u in uids)
    for junk in ("", "cs", "csZZZZ", "x" * 34, "cs" + "0" * 40, "cs!" + "0" * 31):
        assert not is_anonymous_key_of(SECRET, RULE, junk)


def test_opaque_keys_share_nothing_but_their_prefix() -> None:
    """Keys of related originals (UIDs one character apart) look unrelated."""
    keys = [anonymous_key(SECRET, RULE, "source", f"dentist-202{n}@home.example") for n in range(8)]
    for a, b in itertools.combinations(keys, 2):
        common = len([1 for x, y in zip(a[2:], b[2:], strict=True) if x == y])
        assert common < 8, (a, b)  # ~1 of 32 positions match by chance


def test_copy_keys_of_a_rule() -> None:
    marked = CopyKeys("r")
    assert marked.key("source", UID) == copy_key("r", "source", UID)
    assert marked.earlier_key("source", UID) is None
    assert marked.marker("source", UID, "k") == Marker("r", UID, "k")
    assert marked.uid("source", UID, "k") == "k@calsyncd"
    assert CopyKeys("r", keep_uids=True).uid("source", UID, "k") == UID

    anonymous = CopyKeys("r", frozenset({"target"}), SECRET, keep_uids=True)
    key = anonymous.key("source", UID)
    assert key == anonymous_key(SECRET, "r", "source", UID)
    assert anonymous.earlier_key("source", UID) == copy_key("r", "source", UID)
    assert anonymous.marker("source", UID, key) == Marker.anonymous(key)
    assert anonymous.uid("source", UID, key) == f"{key}@calsyncd"  # never the original's
    # Copies on the source (originals on the target) are marked: only the target is anonymous.
    assert anonymous.key("target", UID) == copy_key("r", "target", UID)
    assert anonymous.owns(Marker.anonymous(key))
    assert anonymous.owns(Marker("r", UID, "anything"))
    assert not anonymous.owns(Marker("other", UID, key))
    assert not CopyKeys("other", frozenset({"target"}), SECRET).owns(Marker.anonymous(key))
    assert not CopyKeys("r").owns(Marker.anonymous(key))  # no secret: not recognisable


def test_anonymous_keys_need_the_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        CopyKeys("r", frozenset({"target"})).key("source", UID)


def test_a_marker_names_rule_and_origin_or_neither() -> None:
    assert Marker.anonymous("k").is_anonymous
    assert not Marker("r", "u", "k").is_anonymous
    with pytest.raises(ValueError, match="both its rule and its origin, or neither"):
        Marker("r", None, "k")
