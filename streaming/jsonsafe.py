"""JSON has no NaN or infinity, and msgspec would write them as ``null``: refuse them
before encoding, so no snapshot silently changes a number.

>>> check_finite({"a": [1.0, 2.0]})
>>> check_finite({"a": [1.0, float("inf")]})
Traceback (most recent call last):
ValueError: non-finite number inf at $.a[1]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_PLAIN = frozenset({int, str, bool, type(None)})


class _NonFiniteError(Exception):
    pass


def _check(value: Any) -> None:
    """Raise :class:`_NonFiniteError` if ``value`` holds a NaN or an infinity."""
    kind = type(value)
    if kind is float:
        if value - value != 0.0:  # NaN and ±inf; no call per float
            raise _NonFiniteError
    elif kind in _PLAIN:
        return
    elif kind is list or kind is tuple:
        try:  # a list of numbers at C speed: the exact sum is finite iff they all are
            if math.isfinite(math.fsum(value)):
                return
        except (TypeError, OverflowError, ValueError):
            for v in value:
                _check(v)
            return
        raise _NonFiniteError
    elif isinstance(value, Mapping):
        for v in value.values():
            _check(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _check(v)
    elif isinstance(value, float):
        _check(float(value))


def _locate(value: object, where: str = "$") -> None:
    """Raise for the first non-finite number, naming where it is."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {value!r} at {where}")
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _locate(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _locate(v, f"{where}[{i}]")


def check_finite(value: object) -> None:
    """Raise ``ValueError`` (with its path) if ``value`` holds a NaN or infinity."""
    try:
        _check(value)
    except _NonFiniteError:
        _locate(value)
