"""Remembering the results of the last few calls on the same object.

A write passes one :class:`~calsyncd.model.event.CalendarObject` through several steps that
each serialise or hash it — the request body, the state row's merge base, the pending hash —
and objects are immutable, so the same object always gives the same result. Keyed by
identity (with a strong reference, so an identity is never reused while remembered): value
hashing would cost as much as the work saved.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import update_wrapper
from typing import Concatenate, ParamSpec, TypeVar

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


def by_identity(
    size: int,
) -> Callable[[Callable[Concatenate[T, P], R]], Callable[Concatenate[T, P], R]]:
    """Remember the results of the last ``size`` calls, by the identity of the first argument
    and the value of the others (a call with an unhashable one is not remembered)."""

    def decorate(function: Callable[Concatenate[T, P], R]) -> Callable[Concatenate[T, P], R]:
        results: OrderedDict[tuple[int, Hashable], tuple[T, R]] = OrderedDict()
        lock = threading.Lock()

        def remembered(obj: T, /, *args: P.args, **kwargs: P.kwargs) -> R:
            key = (id(obj), (args, tuple(sorted(kwargs.items()))))
            try:
                hash(key)
            except TypeError:  # an unhashable argument (a list of fields): not remembered
                return function(obj, *args, **kwargs)
            with lock:
                hit = results.get(key)
            if hit is not None and hit[0] is obj:
                return hit[1]
            result = function(obj, *args, **kwargs)
            with lock:
                results[key] = (obj, result)
                results.move_to_end(key)
                while len(results) > size:
                    results.popitem(last=False)
            return result

        update_wrapper(remembered, function)
        return remembered

    return decorate
