"""The Intelligence page's fund view and drill-down through ``streamlit.testing`` on
generated histories: none, an empty store, one symbol with one snapshot, several
symbols with several snapshots; and the dashboard's history readers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from dashboard import history_view as hv
from dashboard.history_page import drift_marks
from execution.intel.history import FUND_FIELDS, SYMBOL_FIELDS, Snapshot
from execution.intel.history_store import HistoryStore
from tests.support import ROOT

APP = str(ROOT / "dashboard" / "app.py")
T0 = 1_764_000_000 // 3600 * 3600


def write_history(state: Path, symbols: list[str], buckets: int) -> None:
    state.mkdir(parents=True, exist_ok=True)
    with HistoryStore(state / hv.HISTORY_FILE, cadence_s=3600) as store:
        for k in range(buckets):
            b = T0 + k * 3600
            recs = [
                {
                    "bucket": b,
                    "window": w,
                    "symbol": s,
                    **dict.fromkeys(SYMBOL_FIELDS, 0.5),
                    "sum_r": float(k - i),
                    "rank": float(i + 1),
                    "as_of": b + 10.0,
                }
                for i, s in enumerate(symbols)
                for w in ("all", "50t")
            ]
            fund = [
                {"bucket": b, "window": w, **dict.fromkeys(FUND_FIELDS, 1.0), "sum_r": float(k)}
                for w in ("all", "50t")
            ]
            store.append([Snapshot(b, b + 10.0, recs, fund)])


def run(monkeypatch: pytest.MonkeyPatch, state: Path) -> AppTest:
    monkeypatch.setenv("EI_STATE_DIR", str(state))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["page"] = "intelligence"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _walk(node: Any, out: list[Any]) -> list[Any]:
    for child in getattr(node, "children", {}).values():
        out.append(child)
        _walk(child, out)
    return out


def charts(at: AppTest) -> dict[str, int]:
    """Each drawn chart's title and the rows of its first data set."""
    out = {}
    for el in _walk(at._tree, []):
        if getattr(el, "type", "") != "vega_lite_chart":
            continue
        spec = json.loads(el.proto.spec)
        title = spec.get("title") or next(
            (layer.get("title") for layer in spec.get("layer", []) if layer.get("title")), ""
        )
        rows = pa.ipc.open_stream(el.proto.datasets[0].data.data).read_all().num_rows
        out[str(title)] = rows
    return out


def infos(at: AppTest) -> list[str]:
    return [str(x.value) for x in (*at.info, *at.caption)]


def test_no_history_says_so(monkeypatch, tmp_path):
    at = run(monkeypatch, tmp_path)
    assert any("History not available: history_v6.sqlite not found" in t for t in infos(at))
    assert any("NAV history not available" in t for t in infos(at))
    assert not charts(at)


def test_an_empty_history_says_so(monkeypatch, tmp_path):
    write_history(tmp_path, [], 0)
    at = run(monkeypatch, tmp_path)
    assert any("holds no symbols yet" in t for t in infos(at))


def test_one_symbol_one_snapshot(monkeypatch, tmp_path):
    write_history(tmp_path, ["AAAUSDT"], 1)
    at = run(monkeypatch, tmp_path)
    assert at.selectbox(key="drill_symbol").value == "AAAUSDT"
    assert any("AAAUSDT: 1 snapshots under all, 1 under 50t" in t for t in infos(at))
    drawn = charts(at)
    assert drawn["AAAUSDT: cumulative R"] == 1 and drawn["rank (50t)"] == 1
    assert drawn["Cumulative R (all symbols)"] == 1


def test_the_drill_down_follows_the_chosen_symbol(monkeypatch, tmp_path):
    write_history(tmp_path, ["AAAUSDT", "BBBUSDT", "CCCUSDT"], 7)
    (tmp_path / hv.NAV_HISTORY).write_text(
        '{"ts": 1764000000, "nav_usd": 100000}\nnot json\n{"ts": 1764003600, "nav_usd": 99000}\n'
    )
    at = run(monkeypatch, tmp_path)
    assert charts(at)["NAV"] == 2
    assert any("1 unusable line(s) skipped" in t for t in infos(at))
    at.selectbox(key="drill_symbol").set_value("CCCUSDT").run()
    drawn = charts(at)
    assert drawn["CCCUSDT: cumulative R"] == 7 and drawn["avg R (50t)"] == 7
    assert drawn["CCCUSDT: score components stacked (50t)"] == 7 * len(hv.COMPONENTS)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), max_size=40))
def test_underwater_is_the_fall_from_the_running_peak(values):
    got = list(hv.underwater(pd.Series(values, dtype=float)))
    peak, last = -float("inf"), 0.0
    for v, u in zip(values, got, strict=True):
        last = last if v is None else v
        peak = max(peak, last)
        assert u == pytest.approx(last - peak, abs=1e-9) and u <= 0


def test_drift_flags_come_from_the_scores_document():
    doc = {"symbols": [{"symbol": "A", "drift": {"detected_at_ts": 7200, "direction": "down"}},
                       {"symbol": "B", "drift": None}]}  # fmt: skip
    marks = drift_marks(doc, "A")
    assert list(marks["ts"]) == [7200.0] and list(marks["flag"]) == ["drift down"]
    assert drift_marks(doc, "B").empty and drift_marks(None, "A").empty
