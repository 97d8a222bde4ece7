"""The dashboard through Streamlit's own testing API."""

from __future__ import annotations

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import documents as hd
from tests.support import ROOT

APP = str(ROOT / "dashboard" / "app.py")


def app(monkeypatch, state, page=None) -> AppTest:
    monkeypatch.setenv("EI_STATE_DIR", str(state))
    at = AppTest.from_file(APP, default_timeout=60)
    if page:
        at.query_params["page"] = page
    at.run()
    assert not at.exception, at.exception
    return at


def test_overview_shows_nav_positions_and_router_health(monkeypatch, full_state):
    at = app(monkeypatch, full_state)
    nav = json.loads((full_state / hd.NAV).read_text())
    assert at.metric[0].label == "NAV (USD)" and at.metric[0].value == f"{nav['nav_usd']:,.2f}"
    health = json.loads((full_state / hd.ROUTER_HEALTH).read_text())
    tables = [df.value for df in at.dataframe]
    assert any(list(t["symbol"]) == sorted(health["symbols"]) for t in tables if "symbol" in t)


def test_intelligence_ranks_symbols_as_the_scores_document(monkeypatch, sample_state):
    at = app(monkeypatch, sample_state, page="intelligence")
    scores = json.loads((sample_state / hd.SCORES).read_text())
    ranking = at.dataframe[0].value
    assert list(ranking["symbol"]) == [e["symbol"] for e in scores["symbols"]]
    assert ranking["score"].iloc[0] == pytest.approx(scores["symbols"][0]["score"])
    assert not at.warning  # fresh documents: no stale warning
    assert any("Rejected or skipped lines: none" in c.value for c in at.caption)


def test_window_selector_switches_the_group_tables(monkeypatch, sample_state):
    at = app(monkeypatch, sample_state, page="intelligence")
    exp = json.loads((sample_state / hd.EXPECTANCY).read_text())
    scores = json.loads((sample_state / hd.SCORES).read_text())
    selector = at.selectbox(key="group_window")
    assert selector.value == scores["window"] == "all"  # the score's window first
    selector.set_value("50t").run()
    by_strategy = next(d.value for d in at.dataframe if "strategy" in d.value)
    want = exp["windows"]["50t"]["strategies"]
    assert dict(zip(by_strategy["strategy"], by_strategy["trades"], strict=True)) == {
        k: v["trades"] for k, v in want.items()
    }


def test_stale_and_broken_documents_show_reasons(monkeypatch, tmp_path, sample_state):
    state = tmp_path / "state"
    shutil.copytree(sample_state, state)
    doc = json.loads((state / hd.SCORES).read_text())
    doc["generated_at"] -= 3600
    doc["source"] = {"mode": "follow", "complete": False}  # live: an old one is stale
    (state / hd.SCORES).write_text(json.dumps(doc))
    (state / hd.EXPECTANCY).write_bytes(b'{"schema": "expectancy_v6", "win')
    at = app(monkeypatch, state, page="intelligence")
    texts = [w.value for w in at.warning]
    assert any("expectancy_v6.json: not valid JSON" in t for t in texts)
    assert any("Scores document is stale" in t for t in texts)
    assert at.dataframe  # the ranking still shows


def test_empty_state_directory(monkeypatch, tmp_path):
    at = app(monkeypatch, tmp_path)
    assert any("nav.json: missing" in i.value for i in at.info)
    at.sidebar.radio[0].set_value("Intelligence").run()
    assert not at.exception and not at.dataframe
    assert any("symbol_scores_v6.json: missing" in w.value for w in at.warning)


def test_a_complete_replay_is_never_stale(monkeypatch, tmp_path, sample_state):
    state = tmp_path / "state"
    shutil.copytree(sample_state, state)
    for name in (hd.SCORES, hd.EXPECTANCY):
        doc = json.loads((state / name).read_text())
        assert doc["source"] == {"mode": "replay", "complete": True}
        doc["generated_at"] -= 10 * 86400
        (state / name).write_text(json.dumps(doc))
    at = app(monkeypatch, state, page="intelligence")
    assert not [w for w in at.warning if "stale" in w.value]
    assert any("a complete replay of the log (not live)" in c.value for c in at.caption)


def test_stale_after_is_configurable(monkeypatch, tmp_path, sample_state):
    state = tmp_path / "state"
    shutil.copytree(sample_state, state)
    doc = json.loads((state / hd.SCORES).read_text())
    doc["source"] = {"mode": "follow", "complete": False}
    doc["generated_at"] -= 600
    (state / hd.SCORES).write_text(json.dumps(doc))
    monkeypatch.setenv("EI_STALE_AFTER_S", "3600")
    assert not [w for w in app(monkeypatch, state, "intelligence").warning if "stale" in w.value]
    monkeypatch.setenv("EI_STALE_AFTER_S", "60")
    warned = [w.value for w in app(monkeypatch, state, "intelligence").warning]
    assert any("Scores document is stale (older than 60 s)" in w for w in warned)
