"""Crash points for fault-injection tests.

``STREAMING_CRASH_AT=<point>[:<n>]`` in the environment makes the process kill
itself with SIGKILL the ``n``-th time (default: the first) it passes ``point`` —
so a test can stop a real process at an exact step of a checkpoint write, which a
timed kill hits only by luck. Unset, :func:`crash_point` is one comparison.
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("STREAMING_CRASH_AT")
_passes: dict[str, int] = {}


def crash_point(name: str) -> None:
    if _SPEC is None:
        return
    point, _, nth = _SPEC.partition(":")
    if point != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
