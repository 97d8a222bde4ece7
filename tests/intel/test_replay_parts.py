"""A replay cut into parts, folded by separate processes and merged in order, gives the
document of a one-process replay; cuts fall at line starts and duplicates across a
cut are still rejected."""

from __future__ import annotations

import gzip
import json
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import execution.intel.replay_parts as parts_mod
import execution.intel.runner as runner_mod
from execution.intel.events import event_id, make_decoder
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.replay_parts import (
    fold_part,
    head_agrees,
    plan_parts,
    seed_ids,
    watermark_floor,
)
from execution.intel.runner import replay
from tests.capped import CAPPED
from tests.intel.builders import assert_close, event_log, line, trade
from tests.support import ROOT

SAMPLE = ROOT / "logs" / "samples" / "router_metrics.jsonl.gz"
WINDOWS = ("all", "3t", "2h")


@pytest.fixture(scope="module")
def sample_lines() -> list[bytes]:
    return gzip.decompress(SAMPLE.read_bytes()).splitlines()


def write(path, lines):
    path.write_bytes(b"".join(ln + b"\n" for ln in lines))
    return path


class TestPlanParts:
    @given(
        st.lists(st.integers(0, 40), min_size=1, max_size=60),
        st.integers(1, 5),
        st.booleans(),
    )
    @settings(max_examples=60)
    def test_parts_cover_the_log_once_cutting_only_at_line_starts(
        self, tmp_path_factory, lengths, parts, ragged_end
    ):
        """Read in order, the pieces are the files' bytes exactly; every cut inside
        a file is at a line start; there are at most ``parts`` parts."""
        d = tmp_path_factory.mktemp("plan")
        data = b"".join(b"x" * n + b"\n" for n in lengths) + (b"tail" if ragged_end else b"")
        half = len(data) // 3
        cut = data.index(b"\n", half) + 1 if b"\n" in data[half:] else len(data)
        files = [d / "a.log", d / "b.log"]
        files[0].write_bytes(data[:cut])
        files[1].write_bytes(data[cut:])
        plan = plan_parts(files, parts)
        assert 1 <= len(plan) <= parts
        got = b""
        for part in plan:
            for path, start, stop in part:
                content = path.read_bytes()
                got += content[start:stop]
                if stop is not None:
                    assert content[stop - 1 : stop] == b"\n"
        assert got == data

    def test_a_gzip_file_is_never_cut(self, tmp_path):
        gz = tmp_path / "a.log.1.gz"
        gz.write_bytes(gzip.compress(b"x\n" * 10_000))
        plain = write(tmp_path / "a.log", [b"y"] * 10)
        plan = plan_parts([gz, plain], 4)
        assert [(p, s, e) for part in plan for p, s, e in part if p == gz] == [(gz, 0, None)]


class TestParallelReplay:
    @pytest.mark.parametrize("jobs", [2, 3])
    def test_parts_in_processes_equal_one_process(self, cfg, tmp_path, sample_lines, jobs):
        log = write(tmp_path / "rm.jsonl", sample_lines)
        one = replay([log], cfg.intel, state_dir=tmp_path, jobs=1, publish=False)
        many = replay(
            [log], cfg.intel, state_dir=tmp_path, jobs=jobs, publish=False, parallel_min_bytes=0
        )
        assert many.expectancy["inputs"] == one.expectancy["inputs"]
        assert_close(many.expectancy["windows"], one.expectancy["windows"])
        assert many.lines == one.lines == len(sample_lines)

    def test_a_duplicate_across_the_cut_is_still_rejected(self, cfg, tmp_path, sample_lines):
        """An event of the first part repeated at the start of the second is
        rejected as in one pass: by the second part itself, whose seed holds the
        first part's last ids, so it still merges."""
        half = len(sample_lines) // 2
        lines = [*sample_lines[:half], sample_lines[half - 10], *sample_lines[half:]]
        log = write(tmp_path / "rm.jsonl", lines)
        plan = plan_parts([log], 2)
        first_stop = plan[0][-1][2]
        assert first_stop is not None
        # the repeated line sits within the first horizon of the second part
        assert log.read_bytes()[:first_stop].count(b"\n") <= half + 1
        one = replay([log], cfg.intel, state_dir=tmp_path, jobs=1, publish=False)
        two = replay(
            [log], cfg.intel, state_dir=tmp_path, jobs=2, publish=False, parallel_min_bytes=0
        )
        assert one.expectancy["inputs"]["reject_reasons"].get("duplicate_id", 0) >= 1
        assert two.expectancy["inputs"] == one.expectancy["inputs"]
        assert_close(two.expectancy["windows"], one.expectancy["windows"])
        assert two.parallel == "2 parts, all merged"

    def test_replay_of_a_small_log_stays_in_one_process(
        self, cfg, tmp_path, sample_lines, monkeypatch
    ):
        def no_pool(*args, **kwargs):
            raise AssertionError("a small log started worker processes")

        monkeypatch.setattr(runner_mod, "ProcessPoolExecutor", no_pool)
        log = write(tmp_path / "rm.jsonl", sample_lines[:500])
        result = replay([log], cfg.intel, state_dir=tmp_path, jobs=2, publish=False)
        assert result.lines == 500


def _lines(*names: str) -> list[bytes]:
    """One trade line per name; a repeated name repeats the trade's id."""
    return [line({**trade(1.0, ts=1_000.0 + i), "trade_id": n}) for i, n in enumerate(names)]


@CAPPED
@given(
    lines=event_log(max_events=80),
    cut_at=st.integers(0, 200),
    use_floor=st.booleans(),
    horizon=st.integers(1, 8),
    seed_read=st.sampled_from([1, 200, 1 << 20]),
)
# the seed (read back two ids deep) holds [b, x] where one pass holds [x, b]: a part
# of one new id agrees, and its recent ids must be its own, not the seed's
@example(lines=_lines("x", "b", "x", "z"), cut_at=3, use_floor=False, horizon=2, seed_read=1)
# the same seed; the part's second id is a duplicate only for one pass: the head
# must reach the horizon-th addition to see it
@example(lines=_lines("x", "b", "x", "y", "b"), cut_at=3, use_floor=False, horizon=2, seed_read=1)
def test_merged_parts_equal_one_engine(
    *, tmp_path_factory, lines, cut_at, use_floor, horizon, seed_read
):
    """Two consecutive parts folded apart and merged in order, as the replay does it
    (the later part seeded from the lines before it, and folded again when its head
    decides an id otherwise than the earlier part's recent ids do): the document and
    the recent ids of one engine over all lines, with any de-duplication horizon,
    seeds read back in steps of any size, and whether or not time-window events
    below a watermark floor were dropped first. A seed read from all of the first
    part always agrees."""
    d = tmp_path_factory.mktemp("parts")
    cut = cut_at % (len(lines) + 1)
    a, b = write(d / "a.log", lines[:cut]), write(d / "b.log", lines[cut:])

    def fresh() -> ExpectancyEngine:
        return ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05, dedup_horizon=horizon)

    one = fresh()
    one.feed_many(lines)
    floor = one.inputs.watermark if use_floor else None
    first, _, _ = fold_part(fresh(), [(a, 0, None)], floor, [a, b])
    with mock.patch.object(parts_mod, "SEED_READ", seed_read):
        second, head, n = fold_part(fresh(), [(b, 0, None)], None, [a, b])
    assert n == len(lines) - cut
    agrees = head_agrees(first.recent_ids, head)
    if seed_read == 1 << 20:  # one read back holds all of ``a``: the seed is exact
        assert agrees
    if agrees and first.mergeable(second):
        first.merge(second)
    else:
        first.feed_many(lines[cut:])
    assert_close(first.document(generated_at=1.0), one.document(generated_at=1.0))
    assert first.recent_ids.to_state() == one.recent_ids.to_state()


@given(
    lines=event_log(max_events=80),
    cut_at=st.integers(0, 200),
    horizon=st.integers(1, 8),
    gz_at=st.integers(0, 3),
)
def test_a_seed_is_the_recent_ids_of_the_lines_before_the_cut(
    *, tmp_path_factory, lines, cut_at, horizon, gz_at
):
    """The seed of a part is what one engine over the lines before its cut holds for
    de-duplication, as long as it reads back to the log's start (always when the
    lines before hold at most a horizon of events); it never reads back into a
    compressed file, nor more than ``max_bytes``."""
    d = tmp_path_factory.mktemp("seed")
    cut = cut_at % (len(lines) + 1)
    third = cut // 3
    files = [
        write(d / "r.log.2", lines[:third]),
        write(d / "r.log.1", lines[third : 2 * third]),
        write(d / "r.log", lines[2 * third :]),
    ]
    at = (files[2], len(b"".join(ln + b"\n" for ln in lines[2 * third : cut])))
    before = ExpectancyEngine(WINDOWS, dedup_horizon=len(lines) + 1)
    before.feed_many(lines[:cut])
    offered = _offered(lines[:cut])
    seed = seed_ids(files, at, horizon)
    if len(offered) <= horizon:
        assert seed == list(before.recent_ids)
    assert set(seed) <= set(offered)
    assert len(seed) <= horizon
    assert seed_ids(files, at, horizon, max_bytes=0) == []
    if gz_at < 2:  # a compressed file before: only what lies after it is read
        files[gz_at].rename(files[gz_at].with_suffix(files[gz_at].suffix + ".gz"))
        files[gz_at] = files[gz_at].with_suffix(files[gz_at].suffix + ".gz")
        after = lines[(gz_at + 1) * third : cut]  # the lines of the files after it
        assert set(seed_ids(files, at, horizon)) <= set(_offered(after))


def _offered(lines: list[bytes]) -> list[str]:
    """The ids a decoder is offered for ``lines``: their events that decode and pass
    the record check, in order."""
    events, _ = make_decoder(None).decode_many(lines)
    return [event_id(e) for e in events]


def test_watermark_floor_counts_only_valid_events(tmp_path):
    good = trade(10.0, ts=1_000.0)
    bad = {**trade(10.0, ts=9e9), "pnl_usd": "lots"}  # rejected: its ts never counts
    log = write(tmp_path / "rm.jsonl", [line(good), json.dumps(bad).encode(), b"not json"])
    assert watermark_floor([log]) == 1_000.0
    assert watermark_floor([tmp_path / "none.log.gz"]) is None
