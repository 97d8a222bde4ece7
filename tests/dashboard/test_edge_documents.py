"""Every document the schemas allow, and hostile variants of them, render without an
exception; a field that cannot be shown appears as missing with a notice naming it.

Documents follow ``execution/schemas/symbol_scores_v6.schema.json`` and
``expectancy_v6.schema.json`` (plus the executor's nav, positions and router health
documents), with fields swapped for wrong types, NaN-like strings, extreme numbers,
out-of-range timestamps, nulls, absent keys and deep nesting.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from dashboard import documents as hd
from dashboard import tables as ht
from execution.intel.figures import FIGURES
from tests.support import ROOT

APP = str(ROOT / "dashboard" / "app.py")
DEEP = "__deeply_nested__"  # replaced by a 1000-deep object when the file is written
DEEP_JSON = '{"a": ' * 1000 + "1" + "}" * 1000

INT_FIGURES = {
    "trades",
    "wins",
    "losses",
    "fills",
    "orders",
    "rejects",
    "scratches",
    "r_trades",
    "longest_loss_streak",
}
GROUP_INTS = {"trades", "fills"}

# -- values -------------------------------------------------------------------------

EXTREMES = st.sampled_from([1e308, -1e308, 5e-324, -5e-324, 0.0, -0.0])
FINITE = st.floats(allow_nan=False, allow_infinity=False) | EXTREMES
UNIT = st.floats(0, 1) | st.sampled_from([0.0, 1.0, 5e-324])
SIGNED = st.floats(-1, 1) | st.sampled_from([-1.0, 1.0, 5e-324, -5e-324])
COUNT = st.integers(0, 10**6) | st.sampled_from([0, 2**63 - 1, 2**63, 10**400])
RANK = st.integers(1, 10**6) | st.sampled_from([2**63, 10**400])
TIMES = st.floats(-62_135_596_800, 253_402_300_799) | st.sampled_from([0.0, -1.0, 1.7e9])
BAD_TIMES = st.sampled_from(
    [1e300, -1e300, 1e308, -1e308, 253_402_300_800.0, -62_135_596_801.0, 10**400]
)
WRONG = st.sampled_from(
    [
        "abc",
        "NaN",
        "nan",
        "Infinity",
        "-inf",
        "null",
        "",
        "1.5",
        "None",
        True,
        False,
        [],
        [1, 2],
        {},
        {"a": 1},
        math.nan,
        math.inf,
        -math.inf,
        10**400,
        DEEP,
    ]
)
NOT_INT = WRONG.filter(lambda v: not isinstance(v, int) or isinstance(v, bool))
NOT_SYMBOL = WRONG.filter(lambda v: not isinstance(v, str) or v in ("", DEEP))
WRONG_CELL = st.sampled_from([[], [1, 2], {}, {"a": 1}, math.nan, math.inf, DEEP])
NAMES = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
) | st.sampled_from(["NaN", "nan", "null", "None", "inf", "-", "a.b", "[0]", "$x$", " "])
WINDOW = st.sampled_from(["all", "50t", "7d", "1.5h", "30s"])


def slot(
    good: st.SearchStrategy,
    *,
    nullable: bool = False,
    required: bool = True,
    bad: st.SearchStrategy = WRONG,
) -> st.SearchStrategy:
    """(present, value, notice expected) for one field."""
    options = [good.map(lambda v: (True, v, False))] * 3
    options += [st.just((True, None, not nullable)), bad.map(lambda v: (True, v, True))]
    if required:
        options.append(st.just((False, None, True)))
    return st.one_of(options)


class Doc:
    """A document being drawn, and the labels of the fields that should get a notice."""

    def __init__(self, draw: Any, file: str, expected: set[str]) -> None:
        self.draw, self.file, self.expected = draw, file, expected

    def put(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        strategy: st.SearchStrategy,
        labels: set[str] | None = None,
    ) -> bool:
        present, value, bad = self.draw(strategy)
        if present:
            obj[key] = value
        if bad:
            (self.expected if labels is None else labels).add(f"{self.file} {path}")
        return not bad


def figures(doc: Doc, path: str, hostile: tuple[str, ...], labels: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in FIGURES:
        good = COUNT if f in INT_FIGURES else FINITE
        if f in hostile:
            doc.put(
                out,
                f,
                f"{path}.{f}",
                slot(
                    good, nullable=f not in INT_FIGURES, bad=NOT_INT if f in INT_FIGURES else WRONG
                ),
                labels,
            )
        else:
            out[f] = doc.draw(good)
    out["null_reasons"] = {}
    return out


@st.composite
def state(draw: Any) -> tuple[dict[str, Any], set[str]]:
    """File name -> document, and the labels of the fields that should get a notice."""
    expected: set[str] = set()
    symbols = draw(st.lists(NAMES, max_size=6, unique=True))
    window = draw(WINDOW)

    sc = Doc(draw, hd.SCORES, expected)
    scores: dict[str, Any] = {
        "schema": "symbol_scores_v6",
        "version": 1,
        "range": [-1.0, 1.0],
        "top": symbols[:5],
    }
    sc.put(scores, "generated_at", "generated_at", slot(TIMES, bad=WRONG | BAD_TIMES))
    sc.put(scores, "as_of", "as_of", slot(TIMES, nullable=True, bad=WRONG | BAD_TIMES))
    window_ok = sc.put(scores, "window", "window", slot(st.just(window)))
    read_groups: set[str] = set()  # symbols whose expectancy figures the ranking reads
    entries = []
    for rank, sym in enumerate(symbols, 1):
        labels: set[str] = set()
        e: dict[str, Any] = {
            "inputs": draw(
                st.dictionaries(
                    st.sampled_from(["avg_r", "hit_rate", "avg_slippage_bps"]), FINITE | st.none()
                )
            )
        }
        symbol_ok = sc.put(e, "symbol", "symbols[].symbol", slot(st.just(sym), bad=NOT_SYMBOL))
        sc.put(e, "score", "symbols[].score", slot(SIGNED), labels)
        sc.put(e, "rank", "symbols[].rank", slot(st.just(rank) | RANK, bad=NOT_INT), labels)
        sc.put(e, "trades", "symbols[].trades", slot(COUNT, bad=NOT_INT), labels)
        sc.put(e, "confidence", "symbols[].confidence", slot(UNIT), labels)
        comps: dict[str, Any] = {}
        for c in ht.COMPONENTS:
            sc.put(comps, c, f"symbols[].components.{c}", slot(SIGNED), labels)
        sc.put(e, "components", "symbols[].components", slot(st.just(comps)), labels)
        if symbol_ok:
            expected |= labels
            read_groups.add(sym)
        entries.append(e)
    scores["symbols"] = entries

    ex = Doc(draw, hd.EXPECTANCY, expected)
    exp: dict[str, Any] = {"schema": "expectancy_v6", "version": 1, "windows": {}}
    ex.put(exp, "generated_at", "generated_at", slot(TIMES, bad=WRONG | BAD_TIMES))
    ex.put(exp, "as_of", "as_of", slot(TIMES, nullable=True, bad=WRONG | BAD_TIMES))
    inputs = {"events": 0, "rejected": 0}
    reasons = draw(st.dictionaries(NAMES, st.integers(1, 10**9), max_size=3))
    ex.put(
        inputs,
        "reject_reasons",
        "inputs.reject_reasons",
        slot(st.just(reasons), required=False, bad=st.sampled_from(["x", [], 3, DEEP])),
    )
    exp["inputs"] = inputs
    group_labels: set[str] = set()
    win: dict[str, Any] = {"lookback": {"trades": None, "seconds": None}, "regimes": {}}
    win["symbols"] = {
        s: figures(
            ex,
            "windows.*.symbols.*",
            ("avg_r", "hit_rate", "avg_slippage_bps"),
            group_labels if s in read_groups else set(),
        )
        for s in symbols
    }
    for dim in ("strategies", "policies"):
        names = draw(st.lists(NAMES, max_size=3, unique=True))
        win[dim] = {
            n: figures(ex, f"windows.*.{dim}.*", tuple(ht.GROUP_COLUMNS), expected) for n in names
        }
    exp["windows"][window] = win
    if window_ok:
        expected |= group_labels

    nv = Doc(draw, hd.NAV, expected)
    nav: dict[str, Any] = {}
    nv.put(nav, "nav_usd", "nav_usd", slot(FINITE, required=False))
    nv.put(nav, "realized_pnl_usd", "realized_pnl_usd", slot(FINITE))
    nv.put(nav, "gross_exposure_usd", "gross_exposure_usd", slot(FINITE))
    nv.put(nav, "open_positions", "open_positions", slot(COUNT, bad=NOT_INT))
    nv.put(nav, "ts", "ts", slot(TIMES, bad=WRONG | BAD_TIMES))

    cell = slot(FINITE | NAMES | COUNT, nullable=True, required=False, bad=WRONG_CELL)
    ps = Doc(draw, hd.POSITIONS, expected)
    positions = []
    for _ in range(draw(st.integers(0, 3))):
        p = {"symbol": draw(NAMES)}
        ps.put(p, "qty", "positions[].qty", cell)
        ps.put(p, "entry_price", "positions[].entry_price", cell)
        positions.append(p)
    rh = Doc(draw, hd.ROUTER_HEALTH, expected)
    health: dict[str, Any] = {}
    for sym in symbols[:3]:
        row: dict[str, Any] = {}
        rh.put(row, "fill_rate", "symbols.*.fill_rate", cell)
        rh.put(row, "regime", "symbols.*.regime", cell)
        health[sym] = row
    docs = {
        hd.SCORES: scores,
        hd.EXPECTANCY: exp,
        hd.NAV: nav,
        hd.POSITIONS: {"ts": 0.0, "positions": positions},
        hd.ROUTER_HEALTH: {"ts": 0.0, "window_orders": 50, "symbols": health},
    }
    return docs, expected


# -- running the app -----------------------------------------------------------------


def write_state(directory: Path, docs: dict[str, Any]) -> None:
    for f in directory.iterdir():
        f.unlink()
    for name, doc in docs.items():
        text = doc if isinstance(doc, str) else json.dumps(doc)
        (directory / name).write_text(text.replace(json.dumps(DEEP), DEEP_JSON))


@contextmanager
def state_env(directory: Path) -> Iterator[None]:
    old = os.environ.get("EI_STATE_DIR")
    os.environ["EI_STATE_DIR"] = str(directory)
    try:
        yield
    finally:
        if old is None:
            del os.environ["EI_STATE_DIR"]
        else:
            os.environ["EI_STATE_DIR"] = old


def run(directory: Path, page: str) -> AppTest:
    with state_env(directory):
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["page"] = page
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def texts(at: AppTest) -> list[str]:
    return [str(x.value) for x in (*at.info, *at.warning, *at.caption)]


def assert_noticed(expected: set[str], *apps: AppTest) -> None:
    shown = [t for at in apps for t in texts(at)]
    missing = sorted(label for label in expected if not any(label in t for t in shown))
    assert not missing, (missing, shown)


# Each example runs the app twice (~0.5 s); shrinking would rerun it hundreds of times.
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    phases=(Phase.explicit, Phase.generate),
)
@given(drawn=state())
def test_generated_documents_render_with_notices(drawn):
    docs, expected = drawn
    with tempfile.TemporaryDirectory() as d:
        write_state(Path(d), docs)
        overview, intel = run(Path(d), "overview"), run(Path(d), "intelligence")
    assert_noticed(expected, overview, intel)
    if not expected:  # a clean document gets no notice
        assert not [t for t in texts(overview) + texts(intel) if "shown as —" in t]


# -- fixed examples ------------------------------------------------------------------


def entry(sym: str, place: int, **over: Any) -> dict[str, Any]:
    e = {
        "symbol": sym,
        "score": 0.1,
        "rank": place,
        "trades": 10,
        "confidence": 0.5,
        "components": dict.fromkeys(ht.COMPONENTS, 0.2),
        "inputs": {},
    }
    return e | over


def scores_doc(entries: list[Any], **over: Any) -> dict[str, Any]:
    doc = {
        "schema": "symbol_scores_v6",
        "version": 1,
        "generated_at": 1.7e9,
        "as_of": 1.7e9,
        "window": "all",
        "range": [-1.0, 1.0],
        "top": [],
        "symbols": entries,
    }
    return doc | over


def expectancy_doc(**over: Any) -> dict[str, Any]:
    fig = dict.fromkeys(FIGURES, 1) | {"null_reasons": {}}
    win = {
        "lookback": {"trades": None, "seconds": None},
        "symbols": {"A": fig},
        "strategies": {"s": fig},
        "policies": {"p": fig},
        "regimes": {},
    }
    doc = {
        "schema": "expectancy_v6",
        "version": 1,
        "generated_at": 1.7e9,
        "as_of": 1.7e9,
        "inputs": {"events": 0, "rejected": 0, "reject_reasons": {}},
        "windows": {"all": win},
    }
    return doc | over


NULLS = {
    hd.SCORES: scores_doc(
        [dict.fromkeys(entry("A", 1), None) | {"symbol": "A"}],
        generated_at=None,
        as_of=None,
        window=None,
    ),
    hd.EXPECTANCY: expectancy_doc(generated_at=None, as_of=None, inputs=None),
    hd.NAV: dict.fromkeys(
        ["nav_usd", "realized_pnl_usd", "gross_exposure_usd", "open_positions", "ts"]
    ),
    hd.POSITIONS: {"positions": None},
    hd.ROUTER_HEALTH: {"symbols": None},
}
NAN_STRINGS = {
    hd.SCORES: scores_doc(
        [
            entry(
                "NaN",
                1,
                score="NaN",
                rank="nan",
                trades="inf",
                confidence="-Infinity",
                components=dict.fromkeys(ht.COMPONENTS, "NaN"),
            )
        ],
        generated_at="NaN",
        as_of="nan",
        window="NaN",
    ),
    hd.EXPECTANCY: expectancy_doc(generated_at="Infinity", as_of="-inf"),
    hd.NAV: {
        "nav_usd": "NaN",
        "realized_pnl_usd": "nan",
        "gross_exposure_usd": "inf",
        "open_positions": "NaN",
        "ts": "NaN",
    },
    hd.POSITIONS: {"positions": [{"symbol": "NaN", "qty": "nan"}]},
    hd.ROUTER_HEALTH: {"symbols": {"NaN": {"fill_rate": "NaN"}}},
}
DEEP_FIGURE = {
    hd.SCORES: scores_doc([entry("A", 1, score=DEEP), entry("B", 2)], extra=DEEP),
    hd.EXPECTANCY: expectancy_doc(extra=DEEP)
    | {
        "windows": {
            "all": expectancy_doc()["windows"]["all"]
            | {"strategies": {"s": {"avg_r": DEEP, "trades": 3}}}
        }
    },
    hd.NAV: {"nav_usd": DEEP, "ts": 1.7e9, "meta": DEEP},
    hd.POSITIONS: {"positions": [{"symbol": "A", "qty": DEEP}]},
    hd.ROUTER_HEALTH: {"symbols": {"A": {"fill_rate": 0.5, "detail": DEEP}}},
}


@pytest.mark.parametrize(
    ("docs", "notices"),
    [
        pytest.param(
            {hd.SCORES: scores_doc([entry("A", 1)]), hd.EXPECTANCY: expectancy_doc()},
            [],
            id="one-symbol",
        ),
        pytest.param(
            {hd.SCORES: scores_doc([]), hd.EXPECTANCY: expectancy_doc()},
            ["lists no symbols"],
            id="zero-symbols",
        ),
        *(
            pytest.param(
                {
                    hd.SCORES: scores_doc([entry("A", 1), entry("B", 2)], as_of=t, generated_at=t),
                    hd.EXPECTANCY: expectancy_doc(as_of=t, generated_at=t),
                    hd.NAV: {"nav_usd": 1.0, "ts": t},
                },
                [
                    "symbol_scores_v6.json as_of",
                    "symbol_scores_v6.json generated_at",
                    "expectancy_v6.json as_of",
                    "nav.json ts",
                ],
                id=f"timestamp-{t!r:.12}",
            )
            for t in (1e300, 1e308, -1e308, -62_135_596_801.0, 253_402_300_800.0, 10**400)
        ),
        pytest.param(
            {hd.NAV: {"nav_usd": "1,000.00", "realized_pnl_usd": 5.0}},
            ["nav.json nav_usd", "nav.json gross_exposure_usd"],
            id="nav-as-string",
        ),
        pytest.param(
            {
                hd.SCORES: scores_doc(
                    [
                        entry("A", 1, score=1e308, confidence=5e-324),
                        entry("B", 2, score=-1e308, trades=10**400, rank=10**400),
                    ]
                ),
                hd.NAV: {
                    "nav_usd": 1e308,
                    "realized_pnl_usd": -1e308,
                    "gross_exposure_usd": 5e-324,
                    "open_positions": 10**400,
                    "ts": 0.0,
                },
            },
            [],
            id="extreme-numbers",
        ),
        pytest.param(
            NULLS,
            [
                "symbol_scores_v6.json symbols[].score",
                "nav.json nav_usd",
                "symbol_scores_v6.json generated_at",
                "positions.json positions",
                "router_health.json symbols",
            ],
            id="null-everywhere",
        ),
        pytest.param(
            NAN_STRINGS,
            [
                "symbol_scores_v6.json symbols[].rank",
                "nav.json nav_usd",
                "expectancy_v6.json generated_at",
                "symbol_scores_v6.json window",
            ],
            id="nan-like-strings",
        ),
        pytest.param(
            {
                hd.SCORES: {"schema": "symbol_scores_v6", "symbols": [{"symbol": "A"}]},
                hd.EXPECTANCY: {"schema": "expectancy_v6", "windows": {"all": {}}},
                hd.NAV: {"nav_usd": 1.0},
                hd.POSITIONS: {"positions": [{}]},
                hd.ROUTER_HEALTH: {"symbols": {"A": {}}},
            },
            ["symbol_scores_v6.json symbols[].rank", "symbol_scores_v6.json window", "nav.json ts"],
            id="missing-keys",
        ),
        pytest.param(
            DEEP_FIGURE,
            [
                "symbol_scores_v6.json symbols[].score",
                "nav.json nav_usd",
                "expectancy_v6.json windows.*.strategies.*.avg_r",
                "positions.json positions[].qty",
                "router_health.json symbols.*.detail",
            ],
            id="deep-nesting",
        ),
        pytest.param(
            {
                hd.POSITIONS: {"positions": "abc"},
                hd.ROUTER_HEALTH: {"symbols": [1, 2]},
                hd.SCORES: scores_doc([1, "x", None, entry("A", 1)]),
                hd.EXPECTANCY: expectancy_doc(windows={"all": 5}),
            },
            [
                "positions.json positions",
                "router_health.json symbols",
                "symbol_scores_v6.json symbols[]",
                "expectancy_v6.json windows.*",
            ],
            id="wrong-containers",
        ),
    ],
)
def test_edge_documents_render(tmp_path, docs, notices):
    write_state(tmp_path, docs)
    overview, intel = run(tmp_path, "overview"), run(tmp_path, "intelligence")
    assert_noticed(set(notices), overview, intel)
    if hd.SCORES in docs and isinstance(docs[hd.SCORES].get("symbols"), list):
        assert intel.dataframe or not [e for e in docs[hd.SCORES]["symbols"] if isinstance(e, dict)]


def test_one_symbol_shows_its_components_without_a_slider(tmp_path):
    write_state(tmp_path, {hd.SCORES: scores_doc([entry("A", 1)])})
    at = run(tmp_path, "intelligence")
    assert list(at.dataframe[0].value["symbol"]) == ["A"]
    assert not at.slider and any("top 1" in s.value for s in at.subheader)


def test_fifty_thousand_symbols_are_paged(tmp_path):
    n = 50_000
    entries = [entry(f"S{i:05d}", i + 1) for i in range(n)]
    write_state(tmp_path, {hd.SCORES: scores_doc(entries), hd.EXPECTANCY: expectancy_doc()})
    at = run(tmp_path, "intelligence")
    first = at.dataframe[0].value
    assert len(first) == ht.PAGE_ROWS and first["symbol"].iloc[0] == "S00000"
    assert any(f"of {n:,}" in t for t in texts(at))  # the paging notice
    with state_env(tmp_path):
        at.number_input(key="ranking_page").set_value(3).run()
    assert not at.exception and not at.error
    page3 = at.dataframe[0].value
    assert page3["symbol"].iloc[0] == f"S{2 * ht.PAGE_ROWS:05d}"
    last = -(-n // ht.PAGE_ROWS)
    with state_env(tmp_path):
        at.number_input(key="ranking_page").set_value(last).run()
    assert list(at.dataframe[0].value["symbol"])[-1] == f"S{n - 1:05d}"
