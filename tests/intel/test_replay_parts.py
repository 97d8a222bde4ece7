"""A replay cut into parts, folded by separate processes and merged in order, gives the
document of a one-process replay; cuts fall at line starts and duplicates across a
cut are still rejected."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import execution.intel.runner as runner_mod
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.runner import fold_part, plan_parts, replay, watermark_floor
from tests.intel.builders import assert_close, event_log, line, trade
from tests.support import ROOT

SAMPLE = ROOT / "logs" / "samples" / "router_metrics.jsonl.gz"
WINDOWS = ("all", "3t", "2h")


@pytest.fixture(scope="module")
def sample_lines() -> list[bytes]:
    return gzip.decompress(SAMPLE.read_bytes()).splitlines()


@pytest.fixture
def parts_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every log is large enough to be cut."""
    monkeypatch.setattr(runner_mod, "PARALLEL_MIN_BYTES", 0)


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
    def test_parts_in_processes_equal_one_process(
        self, parts_always, cfg, tmp_path, sample_lines, jobs
    ):
        log = write(tmp_path / "rm.jsonl", sample_lines)
        one = replay([log], cfg.intel, state_dir=tmp_path, jobs=1, publish=False)
        many = replay([log], cfg.intel, state_dir=tmp_path, jobs=jobs, publish=False)
        assert many.expectancy["inputs"] == one.expectancy["inputs"]
        assert_close(many.expectancy["windows"], one.expectancy["windows"])
        assert many.lines == one.lines == len(sample_lines)

    def test_a_duplicate_across_the_cut_is_still_rejected(
        self, parts_always, cfg, tmp_path, sample_lines
    ):
        """An event of the first part repeated at the start of the second is
        rejected as in one pass (the second part is folded again, in order)."""
        half = len(sample_lines) // 2
        lines = [*sample_lines[:half], sample_lines[half - 10], *sample_lines[half:]]
        log = write(tmp_path / "rm.jsonl", lines)
        plan = plan_parts([log], 2)
        first_stop = plan[0][-1][2]
        assert first_stop is not None
        # the repeated line sits within the first horizon of the second part
        assert log.read_bytes()[:first_stop].count(b"\n") <= half + 1
        one = replay([log], cfg.intel, state_dir=tmp_path, jobs=1, publish=False)
        two = replay([log], cfg.intel, state_dir=tmp_path, jobs=2, publish=False)
        assert one.expectancy["inputs"]["reject_reasons"].get("duplicate_id", 0) >= 1
        assert two.expectancy["inputs"] == one.expectancy["inputs"]
        assert_close(two.expectancy["windows"], one.expectancy["windows"])

    def test_replay_of_a_small_log_stays_in_one_process(
        self, cfg, tmp_path, sample_lines, monkeypatch
    ):
        def no_pool(*args, **kwargs):
            raise AssertionError("a small log started worker processes")

        monkeypatch.setattr(runner_mod, "ProcessPoolExecutor", no_pool)
        log = write(tmp_path / "rm.jsonl", sample_lines[:500])
        result = replay([log], cfg.intel, state_dir=tmp_path, jobs=2, publish=False)
        assert result.lines == 500


@given(event_log(max_events=80), st.integers(0, 200), st.booleans(), st.integers(1, 8))
def test_merged_parts_equal_one_engine(tmp_path_factory, lines, cut_at, use_floor, horizon):
    """Two consecutive parts folded apart and merged in order, as the replay does it
    (the later part folded again when its first ids meet the earlier part's recent
    ids): the document of one engine over all lines, with any de-duplication
    horizon, and whether or not time-window events below a watermark floor were
    dropped first."""
    d = tmp_path_factory.mktemp("parts")
    cut = cut_at % (len(lines) + 1)
    a, b = write(d / "a.log", lines[:cut]), write(d / "b.log", lines[cut:])

    def fresh() -> ExpectancyEngine:
        return ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05, dedup_horizon=horizon)

    one = fresh()
    one.feed_many(lines)
    floor = one.inputs.watermark if use_floor else None
    first, _, _ = fold_part(fresh(), [(a, 0, None)], floor)
    second, head, n = fold_part(fresh(), [(b, 0, None)])
    assert n == len(lines) - cut
    if first.recent_ids.isdisjoint(head):
        first.merge(second)
    else:
        first.feed_many(lines[cut:])
    assert_close(first.document(generated_at=1.0), one.document(generated_at=1.0))
    assert first.recent_ids.to_state() == one.recent_ids.to_state()


def test_watermark_floor_counts_only_valid_events(tmp_path):
    good = trade(10.0, ts=1_000.0)
    bad = {**trade(10.0, ts=9e9), "pnl_usd": "lots"}  # rejected: its ts never counts
    log = write(tmp_path / "rm.jsonl", [line(good), json.dumps(bad).encode(), b"not json"])
    assert watermark_floor([log]) == 1_000.0
    assert watermark_floor([tmp_path / "none.log.gz"]) is None
