"""Readers and tables for the dashboard, over the state documents only.

Every reader returns a :class:`Loaded`: the document, or ``None`` with the reason
(missing, unreadable, not JSON — e.g. a partial file —, not an object, or another
schema). No reader raises; the page shows the reason instead of the data. Inside a
document, a field the page shows but cannot use (absent, of the wrong type, not
finite, a time outside the calendar, nested too deep) comes out as ``None`` and is
counted in a :class:`Notices`, which the page lists; ``null`` where the schema
allows it is shown as missing without a notice. This
module imports neither the engine nor Streamlit, so it is cheap to test and the
dashboard cannot disturb the executor.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> load_scores(d).reason
'symbol_scores_v6.json: missing'
>>> symbol_table(None, None)
[]
"""

from __future__ import annotations

import datetime as dt
import json
import json.decoder
import json.scanner
import math
import re
import time
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
STALE_AFTER_S = 120.0
COMPONENTS = ("expectancy", "hit_rate", "slippage", "router_quality", "liquidity", "volatility")
DIMENSIONS = ("symbols", "strategies", "policies", "regimes", "executors")
WINDOW_NAME = re.compile(r"all|[1-9][0-9]*t|[1-9][0-9]*(\.[0-9]+)?[smhd]")
PAGE_ROWS = 200  # ranking rows per page (a styled table has a cell limit)
MAX_DEPTH = 64  # deeper JSON containers are read as TOO_DEEP
INT64_MAX = 2**63 - 1
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


def fmt_ts(ts: float | None) -> str:
    """Unix seconds as a UTC time; "—" when missing or outside the calendar.

    >>> fmt_ts(0.0), fmt_ts(None), fmt_ts(1e300)
    ('1970-01-01 00:00:00 UTC', '—', '—')
    """
    if ts is None or not TS_MIN <= ts <= TS_MAX:
        return "—"
    try:
        t = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=ts)
    except OverflowError:
        return "—"
    return f"{t.year:04d}-{t:%m-%d %H:%M:%S} UTC"


def fmt_num(x: float | None, spec: str = ",.3f") -> str:
    """A figure for display: fixed point, or scientific when very large.

    >>> fmt_num(1234.5), fmt_num(1e308), fmt_num(None)
    ('1,234.500', '1.000e+308', '—')
    """
    if x is None or not math.isfinite(x):
        return "—"
    return format(x, spec) if abs(x) < 1e15 else f"{x:.3e}"


def fmt_int(x: int | None) -> str:
    """A count for display; "—" when missing, scientific beyond 20 digits (without
    going through a float, which such an integer may overflow).

    >>> fmt_int(1234), fmt_int(None), fmt_int(-(10**400))
    ('1,234', '—', '-1.000e+400')
    """
    if x is None:
        return "—"
    digits = str(abs(x))
    if len(digits) <= 20:
        return f"{x:,}"
    return f"{'-' if x < 0 else ''}{digits[0]}.{digits[1:4]}e+{len(digits) - 1}"


def int_cells(values: list[int | None]) -> list[int | str | None]:
    """Integers for a table column; a value beyond 64 bits is shown as its digits,
    so the column becomes text instead of failing to convert."""
    if all(v is None or -INT64_MAX <= v <= INT64_MAX for v in values):
        return list(values)
    return [None if v is None else fmt_int(v) for v in values]


def symbol_table(
    scores: dict[str, Any] | None,
    expectancy: dict[str, Any] | None,
    notes: Notices | None = None,
) -> list[dict[str, Any]]:
    """The ranked per-symbol table: symbol, score, expectancy (avg R), hit rate,
    slippage, router quality, trades, confidence, then the six components.
    Expectancy figures come from the score's own window; an entry without a symbol
    is skipped and a field that cannot be used is ``None``, never fatal."""
    if not scores:
        return []
    sc = Reader(SCORES, notes)
    ex = Reader(EXPECTANCY, sc.notes)
    window = scores_window(scores, sc.notes)
    by_window = _dict(_dict(_dict(expectancy).get("windows")).get(window)) if window else {}
    groups = _dict(by_window.get("symbols"))
    rows = []
    entries = scores.get("symbols")
    for e in entries if isinstance(entries, list) else []:
        if not isinstance(e, dict):
            sc.note("symbols[]", f"not an object: {describe(e)}; skipped")
            continue
        sym = e.get("symbol")
        if not isinstance(sym, str) or not sym:
            sc.note("symbols[].symbol", f"{'missing' if sym is None else describe(sym)}; skipped")
            continue
        raw_c = e.get("components")
        if "components" in e and not isinstance(raw_c, dict):
            sc.note("symbols[].components", f"not an object: {describe(raw_c)}")
            raw_c = {}
        c = {k: sc.number(raw_c, k, f"symbols[].components.{k}") for k in COMPONENTS}
        i = _dict(e.get("inputs"))
        g = groups.get(sym)

        def figure(name: str, g: Any = g, i: dict[str, Any] = i) -> float | None:
            if isinstance(g, dict):  # the window's own figure; the entry's inputs otherwise
                return ex.number(g, name, f"windows.*.symbols.*.{name}", nullable=True)
            return _num(i.get(name))

        rows.append(
            {
                "rank": sc.integer(e, "rank", "symbols[].rank"),
                "symbol": sym,
                "score": sc.number(e, "score", "symbols[].score"),
                "expectancy": figure("avg_r"),
                "hit_rate": figure("hit_rate"),
                "slippage_bps": figure("avg_slippage_bps"),
                "router_quality": c["router_quality"],
                "trades": sc.integer(e, "trades", "symbols[].trades"),
                "confidence": sc.number(e, "confidence", "symbols[].confidence"),
                **{f"c_{k}": v for k, v in c.items()},
            }
        )
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["symbol"]))
    return rows


def scores_window(scores: dict[str, Any] | None, notes: Notices | None = None) -> str | None:
    """The window the scores were computed on, or ``None`` when unusable."""
    if scores is None:
        return None
    w = scores.get("window")
    if not isinstance(w, str) or WINDOW_NAME.fullmatch(w) is None:
        problem = "missing" if "window" not in scores else f"not a window name: {describe(w)}"
        Reader(SCORES, notes).note("window", problem)
        return None
    return w


def top_n(scores: dict[str, Any] | None, n: int) -> list[str]:
    """The best ``n`` symbols by rank."""
    rows = symbol_table(scores, None)
    return [r["symbol"] for r in rows[: max(n, 0)]]


def windows(expectancy: dict[str, Any] | None) -> list[str]:
    return [w for w in _dict(_dict(expectancy).get("windows")) if isinstance(w, str)]


def page_bounds(rows: int, page: int, size: int = PAGE_ROWS) -> tuple[int, int, int]:
    """(first row, end row, number of pages) of a 1-based page, clamped.

    >>> page_bounds(450, 3), page_bounds(0, 1), page_bounds(10, 99)
    ((400, 450, 3), (0, 0, 1), (0, 10, 1))
    """
    pages = max(1, -(-rows // size))
    page = min(max(page, 1), pages)
    return (page - 1) * size, min(page * size, rows), pages


GROUP_KEY = {
    "symbols": "symbol",
    "strategies": "strategy",
    "policies": "policy",
    "regimes": "regime",
    "executors": "executor",
}
GROUP_COLUMNS = (
    "trades",
    "hit_rate",
    "avg_r",
    "expectancy_per_risk",
    "dd_expectancy",
    "max_drawdown_r",
    "pnl_usd",
    "profit_factor",
    "fills",
    "maker_fill_rate",
    "fallback_rate",
    "avg_slippage_bps",
)
GROUP_INTS = ("trades", "fills")


def group_table(
    expectancy: dict[str, Any] | None, window: str, dim: str, notes: Notices | None = None
) -> list[dict[str, Any]]:
    """One row per group (e.g. per strategy) of one window."""
    ex = Reader(EXPECTANCY, notes)
    win = _dict(_dict(expectancy).get("windows")).get(window)
    if expectancy is not None and window in _dict(expectancy.get("windows")):
        if not isinstance(win, dict):
            ex.note("windows.*", f"not an object: {describe(win)}")
        elif dim in win and not isinstance(win[dim], dict):
            ex.note(f"windows.*.{dim}", f"not an object: {describe(win[dim])}")
    rows = []
    for key, g in sorted(_dict(_dict(win).get(dim)).items()):
        path = f"windows.*.{dim}.*"
        if not isinstance(g, dict):
            ex.note(path, f"not an object: {describe(g)}")
        row: dict[str, Any] = {GROUP_KEY.get(dim, dim): key}
        for c in GROUP_COLUMNS:
            if c in GROUP_INTS:
                row[c] = ex.integer(g, c, f"{path}.{c}")
            else:
                row[c] = ex.number(g, c, f"{path}.{c}", nullable=True)
        rows.append(row)
    for c in GROUP_INTS:
        for r, v in zip(rows, int_cells([r[c] for r in rows]), strict=True):
            r[c] = v
    return rows


Cell = str | int | float | bool | None


def records(
    rows: Any, where: str, path: str, notes: Notices | None = None
) -> list[dict[str, Cell]]:
    """Rows of a free-form table (positions, router health) with every cell a
    scalar; containers and non-finite numbers become ``None`` with a notice, and a
    column whose values are of several kinds is shown as text."""
    r = Reader(where, notes)
    if not isinstance(rows, list):
        r.note(path, f"not a list: {describe(rows)}")
        return []
    out: list[dict[str, Cell]] = []
    for row in rows:
        if not isinstance(row, dict):
            r.note(f"{path}[]", f"not an object: {describe(row)}; skipped")
            continue
        clean: dict[str, Cell] = {}
        for k, v in row.items():
            if v is None or isinstance(v, str | bool):
                clean[k] = v
            elif isinstance(v, int):
                clean[k] = v if -INT64_MAX <= v <= INT64_MAX else fmt_int(v)
            elif isinstance(v, float) and math.isfinite(v):
                clean[k] = v
            else:
                r.note(f"{path}[].{k}" if path != "symbols" else f"symbols.*.{k}", describe(v))
                clean[k] = None
        out.append(clean)
    columns = {k for row in out for k in row}
    for k in columns:
        kinds = {
            "bool" if isinstance(v, bool) else "num" if isinstance(v, int | float) else "str"
            for row in out
            if (v := row.get(k)) is not None
        }
        if len(kinds) > 1:
            for row in out:
                if row.get(k) is not None:
                    row[k] = str(row[k])
    return out


def router_health_rows(
    doc: dict[str, Any] | None, notes: Notices | None = None
) -> list[dict[str, Cell]]:
    """One row per symbol of the router health document."""
    if doc is None:
        return []
    symbols = doc.get("symbols")
    if not isinstance(symbols, dict):
        Reader(ROUTER_HEALTH, notes).note("symbols", f"not an object: {describe(symbols)}")
        return []
    rows: list[Any] = [
        {"symbol": s} | v if isinstance(v, dict) else v for s, v in sorted(symbols.items())
    ]
    return records(rows, ROUTER_HEALTH, "symbols", notes)


@dataclass(frozen=True, slots=True)
class NavFigures:
    nav_usd: float | None
    realized_pnl_usd: float | None
    gross_exposure_usd: float | None
    open_positions: int | None
    ts: float | None


def nav_figures(doc: dict[str, Any] | None, notes: Notices | None = None) -> NavFigures:
    """The NAV metrics of the nav document."""
    r = Reader(NAV, notes)
    return NavFigures(
        r.number(doc, "nav_usd"),
        r.number(doc, "realized_pnl_usd"),
        r.number(doc, "gross_exposure_usd"),
        r.integer(doc, "open_positions"),
        r.timestamp(doc, "ts"),
    )


@dataclass(frozen=True, slots=True)
class Age:
    generated_at: float | None
    as_of: float | None
    age_s: float | None  # now - generated_at
    stale: bool


def data_age(
    doc: dict[str, Any] | None,
    now: float | None = None,
    stale_after: float = STALE_AFTER_S,
    notes: Notices | None = None,
    where: str = "",
) -> Age:
    """How old a published document is; stale when older than ``stale_after`` or
    when it carries no usable time at all."""
    now = time.time() if now is None else now
    r = Reader(where, notes)
    gen = r.timestamp(doc, "generated_at")
    as_of = r.timestamp(doc, "as_of", nullable=True)
    age = None if gen is None else max(0.0, now - gen)
    return Age(gen, as_of, age, age is None or age > stale_after)


def reject_counts(
    expectancy: dict[str, Any] | None, notes: Notices | None = None
) -> dict[str, int]:
    """Rejected and skipped lines by reason."""
    r = Reader(EXPECTANCY, notes)
    inputs = _dict(expectancy).get("inputs")
    if expectancy is not None and "inputs" in expectancy and not isinstance(inputs, dict):
        r.note("inputs", f"not an object: {describe(inputs)}")
    out: dict[str, int] = {}
    for part in ("reject_reasons", "skip_reasons"):
        counts = _dict(inputs).get(part)
        if part in _dict(inputs) and not isinstance(counts, dict):
            r.note(f"inputs.{part}", f"not an object: {describe(counts)}")
        for k, v in _dict(counts).items():
            if isinstance(v, int) and not isinstance(v, bool):
                out[str(k)] = v
            else:
                r.note(f"inputs.{part}.*", f"not an integer: {describe(v)}")
    return dict(sorted(out.items()))
