"""Dashboard readers: every fallback path gives an empty result and a reason; the
tables carry what the documents say."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import documents as hd
from dashboard import live_helpers as h
from dashboard import tables as ht


@pytest.fixture
def state(tmp_path, sample_state):
    out = tmp_path / "state"
    shutil.copytree(sample_state, out)
    return out


class TestFallbacks:
    @pytest.mark.parametrize(
        ("content", "reason"),
        [
            (None, "symbol_scores_v6.json: missing"),
            (b'{"schema": "symbol_scores_v6", "symb', "not valid JSON"),  # partial write
            (b"\x00\xff garbage", "not valid JSON"),
            (b"[1, 2]", "not a JSON object"),
            (b'{"schema": "expectancy_v6", "symbols": []}', "expected 'symbol_scores_v6'"),
            (b'{"schema": "symbol_scores_v6"}', "lacks symbols"),
            (b'{"schema": "symbol_scores_v6", "symbols": {}}', "symbols is not a list"),
            (b"[" * 100_000 + b"]" * 100_000, "not a JSON object"),  # read, capped depth
            (b'{"a": ' * 100_000 + b"1", "not valid JSON"),
        ],
    )
    def test_bad_scores_document(self, tmp_path, content, reason):
        if content is not None:
            (tmp_path / hd.SCORES).write_bytes(content)
        loaded = hd.load_scores(tmp_path)
        assert loaded.doc is None and not loaded.ok
        assert reason in loaded.reason
        assert ht.symbol_table(loaded.doc, None) == []

    def test_unreadable_document(self, tmp_path):
        (tmp_path / hd.NAV).mkdir()  # a directory where a file should be
        loaded = hd.load_nav(tmp_path)
        assert loaded.doc is None and "unreadable" in loaded.reason

    @pytest.mark.parametrize(
        "loader",
        [
            hd.load_nav,
            hd.load_positions,
            hd.load_universe,
            hd.load_router_health,
            hd.load_expectancy,
        ],
    )
    def test_every_reader_reports_a_missing_file(self, tmp_path, loader):
        loaded = loader(tmp_path)
        assert loaded.doc is None and loaded.reason.endswith(": missing")

    def test_wrong_schema_expectancy(self, state):
        (state / hd.EXPECTANCY).write_text(json.dumps({"schema": "expectancy_v5", "windows": {}}))
        assert "expected 'expectancy_v6'" in hd.load_expectancy(state).reason

    def test_malformed_entries_are_skipped(self):
        scores = {"window": "all", "symbols": [None, {"rank": 1}, {"symbol": "A", "rank": 2}]}
        assert [r["symbol"] for r in ht.symbol_table(scores, {"windows": 5})] == ["A"]


class TestTables:
    def test_symbol_table_matches_the_documents(self, state):
        scores, exp = hd.load_scores(state).doc, hd.load_expectancy(state).doc
        table = ht.symbol_table(scores, exp)
        assert [r["symbol"] for r in table] == [e["symbol"] for e in scores["symbols"]]
        first, entry = table[0], scores["symbols"][0]
        group = exp["windows"][scores["window"]]["symbols"][first["symbol"]]
        assert first["rank"] == 1 and first["score"] == entry["score"]
        assert first["expectancy"] == group["avg_r"] and first["hit_rate"] == group["hit_rate"]
        assert first["slippage_bps"] == group["avg_slippage_bps"]
        assert first["router_quality"] == entry["components"]["router_quality"]
        assert (first["trades"], first["confidence"]) == (entry["trades"], entry["confidence"])
        assert all(f"c_{k}" in first for k in ht.COMPONENTS)

    def test_top_n(self, state):
        scores = hd.load_scores(state).doc
        assert ht.top_n(scores, 5) == scores["top"]
        assert ht.top_n(scores, 0) == [] and ht.top_n(None, 3) == []

    def test_group_tables_per_window(self, state):
        exp = hd.load_expectancy(state).doc
        assert set(ht.windows(exp)) == {"all", "50t", "7d"}
        rows = ht.group_table(exp, "all", "strategies")
        assert [r["strategy"] for r in rows] == sorted(exp["windows"]["all"]["strategies"])
        assert (
            rows[0]["trades"] == exp["windows"]["all"]["strategies"][rows[0]["strategy"]]["trades"]
        )
        policies = ht.group_table(exp, "7d", "policies")
        assert [r["policy"] for r in policies] == sorted(exp["windows"]["7d"]["policies"])
        assert ht.group_table(exp, "no-such-window", "strategies") == []

    def test_data_age_and_staleness(self):
        doc = {"generated_at": 1000.0, "as_of": 990.0}
        fresh = h.data_age(doc, now=1030.0)
        assert (fresh.age_s, fresh.as_of, fresh.stale) == (30.0, 990.0, False)
        assert h.data_age(doc, now=1000.0 + h.STALE_AFTER_S + 1).stale
        assert h.data_age({}, now=5.0).stale and h.data_age(None).age_s is None

    def test_reject_counts(self):
        exp = {"inputs": {"reject_reasons": {"not_json": 3}, "skip_reasons": {"unknown_tag": 1}}}
        assert h.reject_counts(exp) == {"not_json": 3, "unknown_tag": 1}
        assert h.reject_counts(None) == {}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


class TestParsing:
    @settings(max_examples=200, deadline=None)
    @given(value=JSON)
    def test_iterative_parser_reads_what_json_reads(self, value):
        text = json.dumps(value)
        parsed = hd.parse_json_iteratively(text, max_depth=1000)
        assert json.dumps(parsed) == json.dumps(json.loads(text))  # NaN != NaN, so as text

    @pytest.mark.parametrize(
        "text", ["", "[1,]", '{"a" 1}', "[1 2]", "{", "[1]x", "nul", '{"a":1,}']
    )
    def test_iterative_parser_rejects_what_json_rejects(self, text):
        with pytest.raises(ValueError):
            json.loads(text)
        with pytest.raises(ValueError):
            hd.parse_json_iteratively(text)

    def test_deep_nesting_is_capped_not_fatal(self, tmp_path):
        deep = '{"a": ' * 5000 + "1" + "}" * 5000
        (tmp_path / hd.SCORES).write_text(
            '{"schema": "symbol_scores_v6", "symbols": [], "extra": ' + deep + "}"
        )
        loaded = hd.load_scores(tmp_path)
        assert loaded.ok and loaded.doc["symbols"] == []

    @given(x=st.floats() | st.integers() | st.none())
    def test_times_and_numbers_always_format(self, x):
        notes = hd.Notices()
        ts = hd.Reader("d.json", notes).timestamp({"t": x}, "t", nullable=True)
        assert isinstance(ht.fmt_ts(ts), str) and isinstance(ht.fmt_num(hd._num(x)), str)
        assert (ts is None) == (x is None or bool(notes))
