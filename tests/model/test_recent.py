"""Results remembered by identity: the same object once, equal objects each, lists never."""

from __future__ import annotations

from calsyncd.model.recent import by_identity


class Box:
    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Box) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


def test_the_same_object_is_computed_once_and_equal_ones_each_time() -> None:
    calls: list[int] = []

    @by_identity(2)
    def double(box: Box, *, times: int = 2) -> int:
        calls.append(box.value)
        return box.value * times

    one, other = Box(1), Box(1)
    assert [double(one), double(one), double(other)] == [2, 2, 2]
    assert calls == [1, 1]
    assert double(one, times=3) == 3  # another argument: another result
    assert calls == [1, 1, 1]


def test_only_the_last_few_are_kept_and_unhashable_arguments_pass_through() -> None:
    calls: list[int] = []

    @by_identity(1)
    def count(box: Box, *, fields: object = None) -> int:
        calls.append(box.value)
        return len(calls)

    first, second = Box(1), Box(2)
    count(first)
    count(second)
    count(first)  # pushed out by the second
    assert calls == [1, 2, 1]
    count(first, fields=["title"])
    count(first, fields=["title"])
    assert calls == [1, 2, 1, 1, 1]
