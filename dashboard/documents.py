"""Reading the state documents for the dashboard, never failing.

Every reader returns a :class:`Loaded`: the document, or ``None`` with the reason
(missing, unreadable, not JSON — e.g. a partial file —, not an object, or another
schema). No reader raises; the page shows the reason instead of the data. JSON
nested deeper than the interpreter can recurse is read without recursion
(:func:`parse_json`), a container past :data:`MAX_DEPTH` as :data:`TOO_DEEP`.
Inside a document, a :class:`Reader` reads a field the page shows; one it cannot
use (absent, of the wrong type, not finite, a time outside the calendar, nested
too deep) comes out as ``None`` and is counted in a :class:`Notices`, which the
page lists; ``null`` where the schema allows it is shown as missing without a
notice. The tables built from the documents are in :mod:`dashboard.tables`, the
headline figures in :mod:`dashboard.live_helpers`. This module imports neither
the engine nor Streamlit.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> load_scores(d).reason
'symbol_scores_v6.json: missing'
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

NAV = "nav.json"
POSITIONS = "positions.json"
UNIVERSE = "universe.json"
ROUTER_HEALTH = "router_health.json"
EXPECTANCY = "expectancy_v6.json"
SCORES = "symbol_scores_v6.json"
MAX_DEPTH = 64  # deeper JSON containers are read as TOO_DEEP
TS_MIN, TS_MAX = -62_135_596_800.0, 253_402_300_799.0  # 0001-01-01 .. 9999-12-31 UTC


class _TooDeep:
    """Stands for a JSON container nested deeper than :data:`MAX_DEPTH`."""

    def __repr__(self) -> str:
        return "<nested too deep>"


TOO_DEEP: Final = _TooDeep()


@dataclass(slots=True)
class Notices:
    """Fields that could not be shown, counted by place and problem.

    >>> n = Notices()
    >>> for _ in range(2): n.add("a.json", "x", "null")
    >>> n.add("a.json", "x", "missing")
    >>> n.lines()
    ['`a.json x`: null (2 times); missing']
    """

    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def add(self, where: str, path: str, problem: str) -> None:
        key = (where, path, problem)
        self.counts[key] = self.counts.get(key, 0) + 1

    def __bool__(self) -> bool:
        return bool(self.counts)

    def lines(self) -> list[str]:
        """One line per field: its problems, each with how often it occurred."""
        by_field: dict[tuple[str, str], list[str]] = {}
        for (w, p, problem), n in self.counts.items():
            by_field.setdefault((w, p), []).append(problem + (f" ({n:,} times)" if n > 1 else ""))
        return [f"`{w} {p}`: {'; '.join(problems)}" for (w, p), problems in by_field.items()]


def describe(x: Any) -> str:
    """A short, safe description of a value that cannot be used."""
    if x is TOO_DEEP:
        return "nested too deep"
    if isinstance(x, float) and not math.isfinite(x):
        return f"not finite ({x})"
    if isinstance(x, str):
        return "an empty string" if not x else f"a string ({x[:24]!r}{'…' if len(x) > 24 else ''})"
    return {"bool": "a boolean", "dict": "an object", "list": "a list", "NoneType": "null"}.get(
        type(x).__name__, type(x).__name__
    )


@dataclass(frozen=True, slots=True)
class Loaded:
    doc: dict[str, Any] | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.doc is not None


def read_document(
    state_dir: str | Path, name: str, *, schema: str | None = None, required: tuple[str, ...] = ()
) -> Loaded:
    """One state document, or the reason it cannot be shown."""
    path = Path(state_dir) / name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Loaded(None, f"{name}: missing")
    except OSError as exc:
        return Loaded(None, f"{name}: unreadable ({exc.strerror})")
    try:
        doc = parse_json(raw)
    except ValueError as exc:
        return Loaded(None, f"{name}: not valid JSON ({exc})")
    if not isinstance(doc, dict):
        return Loaded(None, f"{name}: not a JSON object")
    if schema is not None and doc.get("schema") != schema:
        got = doc.get("schema")
        shown = repr(got) if isinstance(got, str | None) else describe(got)
        return Loaded(None, f"{name}: schema {shown}, expected {schema!r}")
    missing = [k for k in required if k not in doc]
    if missing:
        return Loaded(None, f"{name}: lacks {', '.join(missing)}")
    return Loaded(doc)


def parse_json(raw: bytes | str) -> Any:
    """``json.loads``, except that nesting deeper than the interpreter's recursion
    limit does not fail: such a text is read again without recursion, and every
    container deeper than :data:`MAX_DEPTH` becomes :data:`TOO_DEEP`.

    >>> parse_json('{"a": [1, {"b": null}]}')
    {'a': [1, {'b': None}]}
    >>> parse_json('[' * 5000 + ']' * 5000)[0][0] is not None
    True
    """
    try:
        return json.loads(raw)
    except RecursionError:
        pass
    text = raw.decode(json.detect_encoding(raw)) if isinstance(raw, bytes) else raw
    return parse_json_iteratively(text.removeprefix("\ufeff"))


_WS = " \t\n\r"
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_LITERALS: Final[tuple[tuple[str, Any], ...]] = (
    ("null", None),
    ("true", True),
    ("false", False),
    ("NaN", math.nan),
    ("Infinity", math.inf),
    ("-Infinity", -math.inf),
)
_CLOSE = {"{": "}", "[": "]"}


def parse_json_iteratively(s: str, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``s`` (the same values as :func:`json.loads`), parsed with
    an explicit stack; containers deeper than ``max_depth`` become :data:`TOO_DEEP`.

    >>> parse_json_iteratively('{"a": {"b": [1]}}', max_depth=2)
    {'a': {'b': <nested too deep>}}
    """
    # Each open container: [object being filled or None when too deep, its opener,
    # the pending key of an object].
    stack: list[list[Any]] = []
    n = len(s)

    def skip(i: int) -> int:
        while i < n and s[i] in _WS:
            i += 1
        return i

    def fail(msg: str, i: int) -> ValueError:
        return ValueError(f"{msg}: char {i}")

    def key(i: int) -> tuple[str, int]:
        if i >= n or s[i] != '"':
            raise fail("Expecting property name enclosed in double quotes", i)
        k, i = _scanstring(s, i + 1)
        i = skip(i)
        if i >= n or s[i] != ":":
            raise fail("Expecting ':' delimiter", i)
        return k, skip(i + 1)

    i = skip(0)
    while True:
        if i >= n:
            raise fail("Expecting value", i)
        c = s[i]
        value: Any
        if c in _CLOSE:
            deep = len(stack) >= max_depth or (bool(stack) and stack[-1][0] is None)
            frame: list[Any] = [None if deep else ({} if c == "{" else []), c, None]
            stack.append(frame)
            i = skip(i + 1)
            if i < n and s[i] == _CLOSE[c]:
                stack.pop()
                value, i = (TOO_DEEP if frame[0] is None else frame[0]), i + 1
            elif c == "{":
                frame[2], i = key(i)
                continue
            else:
                continue
        elif c == '"':
            value, i = _scanstring(s, i + 1)
        else:
            m = json.scanner.NUMBER_RE.match(s, i)
            if m is not None:
                whole, frac, exp = m.groups()
                value = float(whole + (frac or "") + (exp or "")) if frac or exp else int(whole)
                i = m.end()
            else:
                for word, lit in _LITERALS:
                    if s.startswith(word, i):
                        value, i = lit, i + len(word)
                        break
                else:
                    raise fail("Expecting value", i)
        while True:  # hand the value to its container, closing finished ones
            if not stack:
                i = skip(i)
                if i != n:
                    raise fail("Extra data", i)
                return value
            frame = stack[-1]
            if isinstance(frame[0], dict):
                frame[0][frame[2]] = value
            elif isinstance(frame[0], list):
                frame[0].append(value)
            i = skip(i)
            if i < n and s[i] == ",":
                i = skip(i + 1)
                if frame[1] == "{":
                    frame[2], i = key(i)
                break
            if i < n and s[i] == _CLOSE[frame[1]]:
                stack.pop()
                value, i = (TOO_DEEP if frame[0] is None else frame[0]), i + 1
                continue
            raise fail(f"Expecting ',' delimiter or {_CLOSE[frame[1]]!r}", i)


def load_nav(state_dir: str | Path) -> Loaded:
    return read_document(state_dir, NAV, required=("nav_usd",))


def load_positions(state_dir: str | Path) -> Loaded:
    return read_document(state_dir, POSITIONS, required=("positions",))


def load_universe(state_dir: str | Path) -> Loaded:
    return read_document(state_dir, UNIVERSE)


def load_router_health(state_dir: str | Path) -> Loaded:
    return read_document(state_dir, ROUTER_HEALTH, required=("symbols",))


def load_expectancy(state_dir: str | Path) -> Loaded:
    loaded = read_document(state_dir, EXPECTANCY, schema="expectancy_v6", required=("windows",))
    if loaded.doc is not None and not isinstance(loaded.doc["windows"], dict):
        return Loaded(None, f"{EXPECTANCY}: windows is not an object")
    return loaded


def load_scores(state_dir: str | Path) -> Loaded:
    loaded = read_document(state_dir, SCORES, schema="symbol_scores_v6", required=("symbols",))
    if loaded.doc is not None and not isinstance(loaded.doc["symbols"], list):
        return Loaded(None, f"{SCORES}: symbols is not a list")
    return loaded


def _num(x: Any) -> float | None:
    """A finite float, or ``None`` (not a number, not finite, or an integer too large
    for a float)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    try:
        f = float(x)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


class Reader:
    """Typed reads of the fields of one document; what cannot be used is ``None``
    and counted in ``notes``."""

    def __init__(self, where: str, notes: Notices | None = None) -> None:
        self.where, self.notes = where, Notices() if notes is None else notes

    def note(self, path: str, problem: str) -> None:
        self.notes.add(self.where, path, problem)

    def _present(self, obj: Any, key: str, path: str, nullable: bool) -> tuple[bool, Any]:
        if not isinstance(obj, dict) or key not in obj:
            self.note(path, "missing")
            return False, None
        x = obj[key]
        if x is None and not nullable:
            self.note(path, "null")
        return x is not None, x

    def number(self, obj: Any, key: str, path: str = "", *, nullable: bool = False) -> float | None:
        ok, x = self._present(obj, key, path or key, nullable)
        if not ok:
            return None
        f = _num(x)
        if f is None:
            big = isinstance(x, int) and not isinstance(x, bool)
            self.note(
                path or key, "too large for a float" if big else f"not a number: {describe(x)}"
            )
        return f

    def integer(self, obj: Any, key: str, path: str = "", *, nullable: bool = False) -> int | None:
        ok, x = self._present(obj, key, path or key, nullable)
        if not ok:
            return None
        if isinstance(x, bool) or not isinstance(x, int):
            self.note(path or key, f"not an integer: {describe(x)}")
            return None
        return x

    def timestamp(
        self, obj: Any, key: str, path: str = "", *, nullable: bool = False
    ) -> float | None:
        """Unix seconds that a calendar can show (years 1 to 9999)."""
        f = self.number(obj, key, path, nullable=nullable)
        if f is not None and not TS_MIN <= f <= TS_MAX:
            self.note(path or key, f"outside the calendar ({f:.6g} s)")
            return None
        return f
