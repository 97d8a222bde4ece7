"""Expectancy surfaces v6: §4 figures on trades with known outcomes, windows, edge
cases, grouping, the extra figures, and streaming == batch."""

from __future__ import annotations

import itertools
import json
import math
import random

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution.intel.expectancy_v6 import (
    EngineStateError,
    ExpectancyEngine,
    Window,
    expectancy_surfaces,
    load_lines,
)
from streaming.framing import LineFramer, split_lines
from tests.capped import CAPPED
from tests.intel.builders import (
    T0,
    assert_close,
    assert_no_sentinels,
    event_log,
    line,
    order,
    trade,
    trades_r,
    validator,
)
from tests.intel.oracle import expectancy_surfaces as oracle
from tests.support import ROOT

SAMPLE = ROOT / "logs" / "samples" / "router_metrics.jsonl.gz"


def surfaces(events, windows=("all",), **kw):
    """The engine's document, checked against the oracle's."""
    events = list(events)
    got = expectancy_surfaces(events, windows=windows, generated_at=0.0, **kw)
    assert_close(got, oracle(events, windows=windows, generated_at=0.0, **kw))
    return got


def group(doc, window="all", dim="symbols", key="BTCUSDT"):
    return doc["windows"][window][dim][key]


class TestKnownOutcomes:
    def test_hand_computed_figures(self):
        """R = +2, −1, −1, +3, −1 at 100 USD risk: every §4 figure by hand."""
        g = group(surfaces(trades_r([2, -1, -1, 3, -1])))
        assert (g["trades"], g["wins"], g["losses"]) == (5, 2, 3)
        assert g["hit_rate"] == pytest.approx(0.4)
        assert g["avg_r"] == pytest.approx(0.4)
        assert g["expectancy_per_risk"] == pytest.approx(200 / 500)
        assert g["pnl_usd"] == pytest.approx(200.0)
        assert g["max_drawdown_r"] == pytest.approx(2.0)  # path 2, 1, 0, 3, 2
        assert g["dd_expectancy"] == pytest.approx(0.4 - 2.0 / 5)
        assert g["null_reasons"] == {
            "maker_fill_rate": "no fills",
            "fallback_rate": "no fills",
            "avg_slippage_bps": "no fills",
            "reject_rate": "no orders",
            "avg_latency_ms": "no orders",
        }

    def test_extra_figures(self):
        """Avg win/loss R, profit factor, streak, R std, SQN and the Wilson bound."""
        g = group(surfaces(trades_r([2, -1, -1, 3, -1])))
        assert g["avg_win_r"] == pytest.approx(2.5)
        assert g["avg_loss_r"] == pytest.approx(-1.0)
        assert g["profit_factor"] == pytest.approx(500 / 300)
        assert g["longest_loss_streak"] == 2
        std = math.sqrt(sum((r - 0.4) ** 2 for r in [2, -1, -1, 3, -1]) / 4)
        assert g["r_std"] == pytest.approx(std)
        assert g["sqn"] == pytest.approx(math.sqrt(5) * 0.4 / std)
        # Wilson 95 % lower bound of 2 / 5, from the closed form
        z, p, n = 1.959963984540054, 0.4, 5
        lb = (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (
            1 + z * z / n
        )
        assert g["hit_rate_lb95"] == pytest.approx(lb)

    def test_r_multiple_takes_precedence_and_risk_gives_r(self):
        """A given r_multiple is used as is; otherwise R = pnl / risk."""
        g = group(surfaces([trade(50.0, 100.0, r_multiple=1.0), trade(-30.0, 60.0)]))
        assert g["avg_r"] == pytest.approx((1.0 - 0.5) / 2)
        assert g["expectancy_per_risk"] == pytest.approx(20.0 / 160.0)

    def test_trades_without_risk_have_no_r(self):
        """No risk_usd and no r_multiple: counted in hit rate and PnL, not in R figures."""
        g = group(surfaces([trade(10.0, None), trade(-5.0, None)]))
        assert (g["trades"], g["hit_rate"], g["pnl_usd"]) == (2, 0.5, 5.0)
        assert g["avg_r"] is None and g["null_reasons"]["avg_r"] == "no trades with R"
        assert g["expectancy_per_risk"] is None
        assert g["null_reasons"]["expectancy_per_risk"] == "no trades with risk_usd"
        assert g["dd_expectancy"] is None

    def test_scratches_are_reported_apart(self):
        """|R| below epsilon is a scratch: counted, and left out of the decisive hit rate."""
        events = trades_r([1.0, 0.01, -0.02, -1.0, 0.5])
        g = group(surfaces(events, scratch_epsilon_r=0.05))
        assert g["scratches"] == 2
        assert g["wins"] == 3 and g["hit_rate"] == pytest.approx(0.6)
        assert g["decisive_hit_rate"] == pytest.approx(2 / 3)

    def test_only_scratches(self):
        g = group(surfaces(trades_r([0.01, -0.01]), scratch_epsilon_r=0.05))
        assert g["decisive_hit_rate"] is None
        assert g["null_reasons"]["decisive_hit_rate"] == "only scratch trades"

    def test_break_even_trade_is_neither_win_nor_loss(self):
        g = group(surfaces([trade(0.0), trade(10.0)]))
        assert (g["wins"], g["losses"], g["hit_rate"]) == (1, 0, 0.5)


class TestDrawdownAwareExpectancy:
    def test_clustered_losses_score_lower_than_spread_losses(self):
        """Same outcomes, losses together → larger drawdown → lower dd_expectancy."""
        clustered = group(surfaces(trades_r([1, 1, 1, -1, -1, -1])))
        spread = group(surfaces(trades_r([1, -1, 1, -1, 1, -1])))
        assert clustered["avg_r"] == pytest.approx(spread["avg_r"])
        assert clustered["dd_expectancy"] < spread["dd_expectancy"]

    def test_equals_avg_r_without_drawdown(self):
        g = group(surfaces(trades_r([0.5, 1.0, 2.0])))
        assert g["max_drawdown_r"] == 0.0
        assert g["dd_expectancy"] == g["avg_r"]

    def test_penalty_scales_the_charge(self):
        a = group(surfaces(trades_r([1, -2, 1]), dd_penalty=1.0))
        b = group(surfaces(trades_r([1, -2, 1]), dd_penalty=2.0))
        assert a["avg_r"] - b["dd_expectancy"] == pytest.approx(
            2 * (a["avg_r"] - a["dd_expectancy"])
        )

    def test_a_fall_from_the_starting_zero_counts(self):
        g = group(surfaces(trades_r([-1, -1, 3])))
        assert g["max_drawdown_r"] == pytest.approx(2.0)

    @given(st.lists(st.integers(-300, 300).map(lambda c: c / 100), min_size=1, max_size=40))
    def test_never_above_avg_r(self, rs):
        g = group(surfaces(trades_r(rs)))
        assert g["dd_expectancy"] <= g["avg_r"] + 1e-12


class TestEdgeCases:
    def test_no_events(self):
        doc = surfaces([])
        assert doc["as_of"] is None
        assert doc["inputs"]["events"] == 0
        assert all(doc["windows"]["all"][d] == {} for d in ("symbols", "strategies"))

    def test_group_with_orders_but_no_trades(self):
        """Zero trades: counts are 0, ratios null with a reason, router figures present."""
        g = group(surfaces([order(maker=True, slippage=-0.5), order(status="REJECTED")]))
        assert (g["trades"], g["wins"], g["pnl_usd"], g["max_drawdown_r"]) == (0, 0, 0.0, 0.0)
        assert g["hit_rate"] is None and g["null_reasons"]["hit_rate"] == "no trades"
        assert g["profit_factor"] is None and g["null_reasons"]["profit_factor"] == "no trades"
        assert (g["orders"], g["fills"], g["rejects"]) == (2, 1, 1)
        assert g["maker_fill_rate"] == 1.0 and g["reject_rate"] == 0.5

    def test_all_winners(self):
        g = group(surfaces(trades_r([1, 2, 0.5])))
        assert g["hit_rate"] == 1.0 and g["losses"] == 0
        assert g["max_drawdown_r"] == 0.0 and g["longest_loss_streak"] == 0
        assert g["profit_factor"] is None
        assert g["null_reasons"]["profit_factor"] == "no losing trades"
        assert g["avg_loss_r"] is None

    def test_all_losers(self):
        g = group(surfaces(trades_r([-1, -0.5, -2])))
        assert g["hit_rate"] == 0.0 and g["wins"] == 0
        assert g["max_drawdown_r"] == pytest.approx(3.5)
        assert g["profit_factor"] == 0.0 and g["longest_loss_streak"] == 3
        assert g["dd_expectancy"] == pytest.approx(-3.5 / 3 - 3.5 / 3)

    def test_single_trade_has_no_dispersion(self):
        g = group(surfaces(trades_r([1.0])))
        assert g["r_std"] is None and g["sqn"] is None
        assert g["null_reasons"]["sqn"] == "fewer than 2 trades with R"

    def test_constant_r_has_no_sqn(self):
        g = group(surfaces(trades_r([0.5, 0.5, 0.5])))
        assert g["r_std"] == 0.0 and g["sqn"] is None
        assert g["null_reasons"]["sqn"] == "R does not vary"


class TestWindows:
    def test_window_parsing(self):
        assert Window.parse("50t").trades == 50
        assert Window.parse("90m").seconds == 5400.0
        assert Window.parse("1.5h").seconds == 5400.0
        with pytest.raises(ValueError, match="bad window"):
            Window.parse("7w")

    def test_last_n_trades_per_group(self):
        """``2t`` keeps each group's last two trades, in arrival order."""
        events = trades_r([3, -1, 2]) + trades_r([-1, -1, 1], symbol="ETHUSDT")
        doc = surfaces(events, windows=("all", "2t"))
        btc, eth = group(doc, "2t"), group(doc, "2t", key="ETHUSDT")
        assert (btc["trades"], btc["avg_r"]) == (2, pytest.approx(0.5))
        assert (eth["trades"], eth["avg_r"], eth["max_drawdown_r"]) == (2, 0.0, 1.0)
        assert doc["windows"]["2t"]["lookback"] == {"trades": 2, "seconds": None}

    def test_last_n_applies_to_orders_separately(self):
        """The router figures of ``Nt`` use the group's last N orders."""
        events = [order(slippage=10.0), order(slippage=1.0), order(slippage=3.0), *trades_r([1])]
        g = group(surfaces(events, windows=("2t",)), "2t")
        assert (g["orders"], g["avg_slippage_bps"]) == (2, pytest.approx(2.0))

    def test_time_window_ends_at_the_global_watermark(self):
        """``1h``: events with ts > watermark − 3600, the watermark from the whole input."""
        events = [
            trade(100.0, ts=T0, symbol="ETHUSDT"),
            trade(100.0, ts=T0 + 3600.0, symbol="ETHUSDT"),  # exactly at the horizon: out
            trade(-100.0, ts=T0 + 3601.0, symbol="ETHUSDT"),
            trade(50.0, ts=T0 + 7200.0),  # BTC sets the watermark for everyone
        ]
        doc = surfaces(events, windows=("1h",))
        assert doc["as_of"] == T0 + 7200.0
        eth = group(doc, "1h", key="ETHUSDT")
        assert (eth["trades"], eth["pnl_usd"]) == (1, -100.0)
        assert doc["windows"]["1h"]["lookback"] == {"trades": None, "seconds": 3600.0}

    def test_a_group_without_events_in_the_window_is_absent(self):
        events = [trade(1.0, ts=T0, symbol="ETHUSDT"), trade(1.0, ts=T0 + 86400 * 10)]
        doc = surfaces(events, windows=("all", "7d"))
        assert "ETHUSDT" in doc["windows"]["all"]["symbols"]
        assert "ETHUSDT" not in doc["windows"]["7d"]["symbols"]

    def test_late_event_counts_by_its_own_time(self):
        """An event arriving out of order is in a time window by its ts, not arrival."""
        events = [trade(1.0, ts=T0 + 7200.0), trade(5.0, ts=T0)]
        g = group(surfaces(events, windows=("1h",)), "1h")
        assert g["trades"] == 1 and g["pnl_usd"] == 1.0


class TestGrouping:
    def test_per_strategy_policy_and_regime(self):
        events = [
            *trades_r([1, 1], strategy="trend_follow", policy="maker_first", regime="maker_first"),
            *trades_r([-1], strategy="mean_revert", policy="taker_only", regime="taker_heavy"),
            *trades_r([2], strategy="mean_revert", policy="maker_first", regime="taker_heavy"),
        ]
        w = surfaces(events)["windows"]["all"]
        assert w["strategies"]["trend_follow"]["trades"] == 2
        assert w["strategies"]["mean_revert"]["avg_r"] == pytest.approx(0.5)
        assert w["policies"]["maker_first"]["trades"] == 3
        assert w["policies"]["taker_only"]["hit_rate"] == 0.0
        assert w["regimes"]["taker_heavy"]["trades"] == 2
        assert w["symbols"]["BTCUSDT"]["trades"] == 4

    def test_missing_labels_read_as_unknown(self):
        e = trade(1.0)
        for k in ("strategy", "policy", "regime"):
            del e[k]
        w = surfaces([e])["windows"]["all"]
        assert set(w["strategies"]) == set(w["policies"]) == set(w["regimes"]) == {"unknown"}


class TestInputs:
    def test_bad_lines_are_counted_by_reason(self):
        lines = [
            line(trade(1.0)),
            b"not json",
            b"[1]",
            b'{"event":"trade","ts":1,"symbol":"A"}',
            b'{"event":"trade","ts":NaN,"symbol":"A","trade_id":"x","pnl_usd":1}',
            b'{"event":"heartbeat","ts":1,"symbol":"A"}',
        ]
        lines.append(lines[0])
        i = surfaces(lines)["inputs"]
        assert i["events"] == 1
        assert i["reject_reasons"] == {
            "duplicate_id": 1,
            "missing_field": 1,
            "non_finite": 1,
            "not_json": 1,
            "not_object": 1,
        }
        assert i["rejected"] == 5 and i["skip_reasons"] == {"unknown_tag": 1}

    def test_dicts_and_lines_give_the_same_document(self):
        events = [trade(1.0), order(), trade(-2.0, symbol="ETHUSDT")]
        assert surfaces(events) == surfaces([line(e) for e in events])

    def test_bad_dicts_are_counted(self):
        doc = surfaces([trade(1.0), {"event": "trade", "ts": float("nan")}, "text", {"event": "x"}])
        assert doc["inputs"]["reject_reasons"] == {"non_finite": 1, "not_object": 1}
        assert doc["inputs"]["skip_reasons"] == {"unknown_tag": 1}


class TestDocument:
    def test_sample_validates_and_has_no_sentinels(self):
        doc = surfaces(load_lines(SAMPLE), windows=("all", "50t", "7d"), scratch_epsilon_r=0.05)
        validator("expectancy_v6.schema.json").validate(doc)
        assert_no_sentinels(doc)
        for w in doc["windows"].values():
            for dim in ("symbols", "strategies", "policies", "regimes"):
                for g in w[dim].values():
                    nulls = {k for k, v in g.items() if v is None}
                    assert nulls == set(g["null_reasons"])

    @CAPPED
    @given(event_log())
    def test_null_exactly_when_a_reason_is_given(self, lines):
        """Every null figure carries a reason, and every reason belongs to a null."""
        doc = surfaces(lines, windows=("all", "3t", "1h"), scratch_epsilon_r=0.05)
        validator("expectancy_v6.schema.json").validate(doc)
        assert_no_sentinels(doc)
        for w in doc["windows"].values():
            for dim in ("symbols", "strategies", "policies", "regimes"):
                for g in w[dim].values():
                    assert {k for k, v in g.items() if v is None} == set(g["null_reasons"])


# --- streaming == batch ---------------------------------------------------------------

WINDOWS = ("all", "3t", "1h", "2d")


def _stream(data: bytes, cuts: list[int], restores: list[bool]) -> ExpectancyEngine:
    """Feed ``data`` cut at ``cuts`` through a framer; after chunk i, when
    ``restores[i]``, carry the engine over through a JSON round trip of its state."""
    engine = ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05)
    framer = LineFramer(max_line_bytes=4096)
    bounds = [0, *sorted(set(cuts)), len(data)]
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        engine.feed_many(framer.feed(data[a:b]))
        if restores[i % len(restores)]:
            state = json.loads(json.dumps(engine.to_state()))
            engine = ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05)
            engine.restore(state)
    return engine


@given(
    event_log(),
    st.lists(st.integers(0, 10_000), max_size=12),
    st.lists(st.booleans(), min_size=1, max_size=12),
)
def test_streaming_equals_batch_in_any_chunking_with_restores(lines, cuts, restores):
    """Any byte chunking, any snapshot/restore cycles: the batch document."""
    data = b"".join(ln + b"\n" for ln in lines)
    cuts = [c % (len(data) + 1) for c in cuts]
    engine = _stream(data, cuts, restores)
    frames, _, _ = split_lines(data, skipping=False, max_line_bytes=4096)
    want = oracle(frames, windows=WINDOWS, scratch_epsilon_r=0.05, generated_at=1.0)
    assert_close(engine.document(generated_at=1.0), want)


def test_streaming_equals_batch_on_the_sample():
    lines = load_lines(SAMPLE)
    engine = ExpectancyEngine(("all", "50t", "7d"), scratch_epsilon_r=0.05)
    rng = random.Random(5)
    i = 0
    while i < len(lines):
        n = rng.randint(1, 900)
        engine.feed_many(lines[i : i + n])
        i += n
        state = json.loads(json.dumps(engine.to_state()))
        engine = ExpectancyEngine(("all", "50t", "7d"), scratch_epsilon_r=0.05)
        engine.restore(state)
    want = oracle(lines, windows=("all", "50t", "7d"), scratch_epsilon_r=0.05, generated_at=1.0)
    assert_close(engine.document(generated_at=1.0), want)


def test_restore_refuses_a_state_of_other_windows():
    state = ExpectancyEngine(("all", "50t")).to_state()
    with pytest.raises(EngineStateError, match="windows"):
        ExpectancyEngine(("all", "20t")).restore(state)
    with pytest.raises(EngineStateError, match="scratch_epsilon_r"):
        ExpectancyEngine(("all", "50t"), scratch_epsilon_r=0.1).restore(state)


def test_duplicate_ids_are_caught_across_a_restore():
    engine = ExpectancyEngine(("all",))
    engine.feed(line(trade(1.0, trade_id="same")))
    state = json.loads(json.dumps(engine.to_state()))
    engine = ExpectancyEngine(("all",))
    engine.restore(state)
    engine.feed(line(trade(1.0, trade_id="same")))
    assert engine.inputs.rejected == {"duplicate_id": 1}


@CAPPED
@given(event_log(max_events=120), st.lists(st.integers(1, 40), max_size=8))
def test_columnar_batches_equal_event_by_event(lines, sizes):
    """Blocks of any sizes give the document of blocks of one event each (every
    event merged into its groups' tables on its own)."""
    one = ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05)
    for ln in lines:
        one.feed_many([ln])
    batched = ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05)
    i = 0
    for n in itertools.cycle(sizes or [len(lines) or 1]):
        if i >= len(lines):
            break
        batched.feed_many(lines[i : i + n])
        i += n
    assert_close(batched.document(generated_at=1.0), one.document(generated_at=1.0))


@pytest.mark.parametrize("horizon", [1, 3, 10])
def test_dedup_horizon_is_the_same_rule_in_engine_and_oracle(horizon):
    """A repeat within the horizon is rejected, one from further back is applied, by
    the engine (one at a time and in batches) and the oracle alike."""
    first = trade(1.0)
    others = [trade(float(i)) for i in range(25)]
    lines = [line(first), *(line(e) for e in others[: horizon - 1]), line(first)]  # inside
    lines += [line(e) for e in others[horizon - 1 :]] + [line(first)]  # beyond: applied
    want = surfaces(lines, dedup_horizon=horizon)
    assert want["inputs"]["reject_reasons"] == {"duplicate_id": 1}
    assert group(want)["trades"] == 1 + 25 + 1
    one = ExpectancyEngine(("all",), dedup_horizon=horizon)
    for ln in lines:
        one.feed(ln)
    many = ExpectancyEngine(("all",), dedup_horizon=horizon)
    many.feed_many(lines)
    for engine in (one, many):
        assert_close(engine.document(generated_at=0.0), want)


def test_the_configured_dedup_horizon_reaches_the_engine(cfg):
    intel = msgspec.structs.replace(cfg.intel, dedup_horizon=7)
    assert ExpectancyEngine.from_config(intel).recent_ids.horizon == 7
    assert cfg.intel.dedup_horizon == 100_000
