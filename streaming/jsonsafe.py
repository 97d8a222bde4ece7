"""JSON has no NaN or infinity, and msgspec would write them as ``null``: refuse them
before encoding, so no snapshot silently changes a number.

>>> check_finite({"a": [1.0, 2.0]})
>>> check_finite({"a": [1.0, float("inf")]})
Traceback (most recent call last):
ValueError: non-finite number inf at $.a[1]
>>> rounded({"a": [1 / 3, 2, "x"]}, digits=4)
{'a': [0.3333, 2, 'x']}
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


def _round(value: Any, fmt: str) -> Any:
    """A copy of ``value`` with every float checked and rounded."""
    kind = type(value)
    if kind is float:
        if value - value != 0.0:
            raise _NonFiniteError
        return float(format(value, fmt))
    if kind in _PLAIN:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {k: _round(v, fmt) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v, fmt) for v in value]
    if isinstance(value, float):
        return _round(float(value), fmt)
    return value


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


def rounded(value: Any, digits: int) -> Any:
    """A copy with every float rounded to ``digits`` significant digits (relative
    change at most ``5 × 10^-digits``); non-finite numbers raise as in
    :func:`check_finite`."""
    try:
        return _round(value, f".{digits}g")
    except _NonFiniteError:
        _locate(value)
        raise AssertionError("unreachable") from None
