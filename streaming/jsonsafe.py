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


def check_finite(value: object, where: str = "$") -> None:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {value!r} at {where}")
    elif isinstance(value, Mapping):
        for k, v in value.items():
            check_finite(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            check_finite(v, f"{where}[{i}]")
