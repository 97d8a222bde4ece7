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


class _NonFiniteError(Exception):
    pass


_PLAIN = frozenset({int, str, bool, type(None)})


def _walk(value: Any, fmt: str | None) -> Any:
    """``value`` with every float checked (and, with ``fmt``, rounded)."""
    kind = type(value)
    if kind is float:
        if value - value != 0.0:  # NaN and ±inf; no call per float
            raise _NonFiniteError
        return value if fmt is None else float(format(value, fmt))
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {k: _walk(v, fmt) for k, v in value.items()}
    if isinstance(value, Mapping):
        return {k: _walk(v, fmt) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, fmt) for v in value]
    if isinstance(value, float):  # a float subclass
        return _walk(float(value), fmt)
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
        _walk(value, None)
    except _NonFiniteError:
        _locate(value)


def rounded(value: Any, digits: int) -> Any:
    """A copy with every float rounded to ``digits`` significant digits (relative
    change at most ``5 × 10^-digits``); non-finite numbers raise as in
    :func:`check_finite`."""
    try:
        return _walk(value, f".{digits}g")
    except _NonFiniteError:
        _locate(value)
        raise AssertionError("unreachable") from None
