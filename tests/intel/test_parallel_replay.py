"""``replay --jobs N`` is the same fold as ``--jobs 1``: no line that a one-process
replay rejects (a duplicate, an invalid or out-of-range line) may move a part's
watermark or the time floor the earlier parts forget below; where the parts cannot
be merged exactly the replay falls back to one process and says so."""

from __future__ import annotations

import gzip
import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.intel.replay_parts import plan_parts
from execution.intel.runner import replay
from tests.intel.builders import T0, assert_close, good_event, line, trade
from tests.support import ROOT

SAMPLE = ROOT / "logs" / "samples" / "router_metrics.jsonl.gz"
WINDOWS = ("all", "3t", "2h", "3650d")
WIDTH = 400  # every line padded to this many bytes, so cuts do not depend on content
YEAR = 365 * 86400.0


def padded(raw: bytes) -> bytes:
    assert len(raw) <= WIDTH, raw
    return raw + b" " * (WIDTH - len(raw))


def write(path, lines):
    path.write_bytes(b"".join(ln + b"\n" for ln in lines))
    return path


def documents(result):
    return result.expectancy, result.scores


def assert_same(one, many):
    assert many.expectancy["inputs"] == one.expectancy["inputs"]
    assert many.expectancy["as_of"] == one.expectancy["as_of"]
    assert_close(many.expectancy["windows"], one.expectancy["windows"])
    assert_close(
        {k: v for k, v in many.scores.items() if k != "generated_at"},
        {k: v for k, v in one.scores.items() if k != "generated_at"},
    )
    assert many.lines == one.lines


def test_a_late_duplicate_with_a_far_future_ts_does_not_move_the_floor(cfg, tmp_path):
    """The reproduction: the last line repeats an earlier trade's id with a ts ten
    years ahead. One process rejects it; the parts must too, and the time windows
    must keep every trade."""
    lines = gzip.decompress(SAMPLE.read_bytes()).splitlines()
    first_trade = next(json.loads(x) for x in lines if b'"trade"' in x)
    last_ts = max(json.loads(x)["ts"] for x in lines[-50:] if x.startswith(b"{"))
    dup = {**first_trade, "ts": last_ts + 10 * YEAR}
    log = write(tmp_path / "rm.jsonl", [*lines, json.dumps(dup).encode()])
    one = replay([log], cfg.intel, state_dir=tmp_path, jobs=1, publish=False, windows=WINDOWS)
    assert one.expectancy["inputs"]["reject_reasons"]["duplicate_id"] >= 1
    for jobs in (2, 3):
        many = replay(
            [log], cfg.intel, state_dir=tmp_path, jobs=jobs, publish=False, windows=WINDOWS,
            parallel_min_bytes=0,
        )  # fmt: skip
        assert_same(one, many)
        w = many.expectancy["windows"]["3650d"]["strategies"]
        assert sum(g["trades"] for g in w.values()) == one.expectancy["inputs"]["trades"]


KINDS = ("dup_future", "dup_same", "late", "future", "invalid_future", "out_of_range", "good")


@st.composite
def boundary_log(draw: st.DrawFn, jobs: int):
    """A log of fixed-width lines with hostile lines drawn just before, at and after
    each place a ``jobs``-part plan cuts it, and as its very last lines."""
    n = draw(st.integers(12, 60))
    events = []
    ts = T0
    for i in range(n):
        ts += draw(st.sampled_from([0.0, 60.0, 600.0, 3600.0]))
        events.append(draw(good_event(i, ts)))
    lines = [padded(line(e)) for e in events]
    cuts = [b * n // jobs for b in range(1, jobs)] + [n]
    extra = n
    for cut in cuts:
        for at in draw(st.lists(st.integers(-2, 1), min_size=1, max_size=3, unique=True)):
            i = min(max(cut + at, 1), n - 1)
            kind = draw(st.sampled_from(KINDS))
            earlier = events[draw(st.integers(0, i - 1))]
            far = events[-1]["ts"] + draw(st.sampled_from([YEAR, 10 * YEAR, 1e9]))
            if kind == "dup_future":
                e = {**earlier, "ts": far}
            elif kind == "dup_same":
                e = earlier
            elif kind == "late":
                e = {**draw(good_event(extra, T0 - 30 * 86400.0)), "ts": T0 - 30 * 86400.0}
            elif kind == "future":
                e = draw(good_event(extra, far))
            elif kind == "invalid_future":
                e = {**draw(good_event(extra, far, "trade")), "pnl_usd": "lots"}
            elif kind == "out_of_range":
                e = {**draw(good_event(extra, T0, "trade")), "ts": 1e308}
            else:
                e = draw(good_event(extra, events[i]["ts"]))
            extra += 1
            lines[i] = padded(json.dumps(e).encode())
    return lines


@pytest.mark.parametrize("jobs", [2, 3])
@given(data=st.data(), horizon=st.sampled_from([4, 16, 100_000]))
@settings(max_examples=max(8, settings.default.max_examples // 4))
def test_parts_equal_one_process_with_hostile_lines_at_the_cuts(
    tmp_path_factory, cfg, jobs, data, horizon
):
    lines = data.draw(boundary_log(jobs))
    d = tmp_path_factory.mktemp("cuts")
    log = write(d / "rm.jsonl", lines)
    assert len(plan_parts([log], jobs)) == jobs
    intel = msgspec.structs.replace(cfg.intel, dedup_horizon=horizon)
    kw = dict(state_dir=d, publish=False, windows=WINDOWS)
    one = replay([log], intel, jobs=1, **kw)
    many = replay([log], intel, jobs=jobs, parallel_min_bytes=0, floor_tail_bytes=2 * WIDTH, **kw)
    assert_same(one, many)


def test_an_unmergeable_split_falls_back_to_one_process_and_says_so(cfg, tmp_path):
    events = [trade(1.0, ts=T0 + i) for i in range(40)]
    lines = [padded(line(e)) for e in events]
    lines[-1] = padded(line({**events[0], "ts": T0 + 10 * YEAR}))
    log = write(tmp_path / "rm.jsonl", lines)
    one = replay([log], cfg.intel, state_dir=tmp_path, jobs=1, publish=False, windows=WINDOWS)
    many = replay(
        [log], cfg.intel, state_dir=tmp_path, jobs=2, publish=False, windows=WINDOWS,
        parallel_min_bytes=0, floor_tail_bytes=2 * WIDTH,
    )  # fmt: skip
    assert_same(one, many)
    assert "one process" in many.parallel
