"""The fund contract without Dask: several sources, read in parts of any size (the
distributed path's reading, packing and ordered fold, in this process), give the
documents of one engine fed every line in the contract order (see
``tests/intel/fund_support.py``); a part owns exactly the lines that start in it;
saved states merge exactly where their events do not interleave and are refused
where they do; bad inputs and states are one-line errors with exit status 2."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from execution.intel.cluster import fold_ordered, replay_sources
from execution.intel.columnar import concat
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.fund import FundStateError, merge_states
from execution.intel.sources import list_sources, plan_parts, read_part
from execution.state_publish import EXPECTANCY_FILE
from streaming.inputs import InputError
from tests.capped import CAPPED
from tests.intel.builders import assert_close, without_wall_time
from tests.intel.fund_support import (
    WINDOWS,
    contract_lines,
    event_line,
    fund_logs,
    reference,
    write_sources,
)
from tests.support import ROOT

POLICIES = st.sampled_from([(100_000, 20_000), (4, 20_000), (100_000, 2), (6, 3)])


def engine_of(policy: tuple[int, int]) -> ExpectancyEngine:
    horizon, groups = policy
    return ExpectancyEngine(WINDOWS, dedup_horizon=horizon, max_groups=groups)


@CAPPED
@given(
    fund_logs(),
    st.integers(1, 400),
    POLICIES,
    st.lists(st.booleans(), min_size=3),
    st.integers(1, 40),
    st.randoms(use_true_random=False),
)
def test_parts_of_any_size_fold_to_the_contract_order(  # noqa: PLR0917 - one per strategy
    sources, part_bytes, policy, gz, batch, rnd
):
    """Every figure, reject count, duplicate and group admission agrees with one
    engine fed the contract order, whatever the cuts (lines straddle them, a
    duplicate's first copy lies in another part or source), the order in which the
    parts come back and the fold's batches (what a cluster does, here)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_sources(Path(tmp), sources, gz)
        parts = plan_parts(list_sources(paths), part_bytes)
        read = [read_part(p, read_size=64) for p in parts]
        arrival = rnd.sample(range(len(parts)), len(parts))
        engine = engine_of(policy)
        fold_ordered(engine, parts, read, batch, arrival)
        got = engine.document(generated_at=0.0)
        planned = engine_of(policy)
        fold_ordered(planned, parts, read, batch)
        want = reference(sources, engine_of(policy), paths)
    # the batches do not depend on the arrival order: the same document to the bit
    assert planned.document(generated_at=0.0) == got
    assert_close(got, want)


@CAPPED
@given(
    st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    st.integers(1, 50),
    st.booleans(),
)
def test_a_part_owns_the_lines_that_start_in_it(raw, part_bytes, final_newline):
    """The parts' lines, in plan order, are the file's lines, each once — also when
    a cut falls on a newline, inside a line, or the last line has no newline."""
    lines = [r or event_line("trade", 1e9 + i, i, "X", 1.0, "s") for i, r in enumerate(raw)]
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.jsonl"
        path.write_bytes(data)
        parts = plan_parts(list_sources([str(path)]), part_bytes)
        read = [read_part(p, read_size=7) for p in parts]
        whole = read_part(plan_parts(list_sources([str(path)]), 1 << 30)[0])
    assert sum(r.lines for r in read) == whole.lines == len(data.split(b"\n")) - (
        1 if data.endswith(b"\n") or not data else 0
    )
    got = concat([r.columns for r in read])
    assert got.ids == whole.columns.ids
    assert got.ts.tolist() == whole.columns.ts.tolist()
    assert sum((r.rejected for r in read), start=type(whole.rejected)()) == whole.rejected


def test_the_late_line_stays_behind_its_own_source_and_ties_go_to_the_first_source():
    """The order itself, on a hand-made case: source 1's late line (ts 5 after ts 9)
    is placed after its own ts-9 line, not before source 0's ts-7 line; at ts 9 the
    earlier source goes first."""
    a = [event_line("trade", ts, i, "X", float(i), "s") for i, ts in enumerate([1.0, 7.0, 9.0])]
    b = [event_line("trade", ts, 10 + i, "X", 0.0, "s") for i, ts in enumerate([2.0, 9.0, 5.0])]
    order = [json.loads(x)["trade_id"] for x in contract_lines([a, b])]
    assert order == ["t0", "t10", "t1", "t2", "t11", "t12"]


def test_replay_of_several_paths_publishes_the_fund_view(cfg, tmp_path):
    sources = [
        [event_line("trade", 1e9 + 2 * i, i, "BTC", i - 3.0, "a") for i in range(9)],
        [event_line("order", 1e9 + 2 * i + 1, i, "ETH", 1.0, "b") for i in range(9)],
        [event_line("trade", 1e9 + 3 * i, i, "BTC", 1.0, "a") for i in range(6)],  # dups of s0
    ]
    paths = write_sources(tmp_path / "in", sources, [False, True, False])
    result = replay_sources(paths, cfg.intel, state_dir=tmp_path / "out", wall=lambda: 0.0)
    want = reference(sources, ExpectancyEngine.from_config(cfg.intel), paths)
    assert result.expectancy["inputs"]["reject_reasons"]["duplicate_id"] > 0
    assert_close(without_wall_time(result.expectancy), without_wall_time(want))
    assert json.loads((tmp_path / "out" / EXPECTANCY_FILE).read_text())["inputs"] == want["inputs"]


def test_a_rotated_source_and_a_glob(cfg, tmp_path):
    """A source is its rotated set, oldest first; a glob is one source per match."""
    old = [event_line("trade", 1e9 + i, i, "BTC", 1.0, "a") for i in range(5)]
    new = [event_line("trade", 1e9 + 5 + i, 5 + i, "BTC", -1.0, "a") for i in range(5)]
    other = [event_line("trade", 1e9 + i + 0.5, 50 + i, "ETH", 2.0, "b") for i in range(10)]
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.jsonl.1.gz").write_bytes(gzip.compress(b"".join(x + b"\n" for x in old)))
    (d / "a.jsonl").write_bytes(b"".join(x + b"\n" for x in new))
    (d / "b.jsonl").write_bytes(b"".join(x + b"\n" for x in other))
    assert [len(s.files) for s in list_sources([str(d / "*.jsonl")])] == [2, 1]
    got = replay_sources([str(d / "*.jsonl")], cfg.intel, state_dir=tmp_path, publish=False)
    labels = [d / "a.jsonl", d / "b.jsonl"]  # the matches (a rotated set by its live file)
    want = reference([old + new, other], ExpectancyEngine.from_config(cfg.intel), labels)
    assert_close(without_wall_time(got.expectancy), without_wall_time(want))


# --- merge of saved states ------------------------------------------------------------------


@settings(max_examples=min(settings.default.max_examples, 20))
@given(fund_logs(max_sources=3, max_lines=15), POLICIES)
def test_merge_of_per_source_states_is_the_contract_or_refused(cfg, sources, policy):
    """Each source replayed and saved alone, then merged: the fund view of all of
    them, exactly, when their events do not interleave in the contract order;
    otherwise a refusal (never a different document)."""
    horizon, groups = policy
    intel = msgspec.structs.replace(cfg.intel, dedup_horizon=horizon, max_groups=groups)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = write_sources(root / "in", sources)
        dirs = []
        for k, p in enumerate(paths):
            dirs.append(root / f"state{k}")
            replay_sources([p], intel, state_dir=dirs[-1], save_state=True, windows=WINDOWS)
        want = reference(sources, ExpectancyEngine.from_config(intel, WINDOWS), paths)
        try:
            got, _, _ = merge_states(dirs, intel, state_dir=root / "fund", windows=WINDOWS)
        except FundStateError as exc:
            assert "overlap" in str(exc) or "duplicates" in str(exc) or "max_groups" in str(exc)
            event("refused")
            return
    event(f"merged {len(sources)} source(s)")
    assert_close(without_wall_time(got), without_wall_time(want))


def test_merge_refuses_another_configuration(cfg, tmp_path):
    log = write_sources(tmp_path / "in", [[event_line("trade", 1e9, 1, "X", 1.0, "s")]])
    replay_sources(log, cfg.intel, state_dir=tmp_path / "a", save_state=True)
    replay_sources(log, cfg.intel, state_dir=tmp_path / "b", save_state=True, windows=["9t"])
    with pytest.raises(FundStateError, match="another configuration: windows"):
        merge_states([tmp_path / "a", tmp_path / "b"], cfg.intel, state_dir=tmp_path / "o")
    assert not (tmp_path / "o" / EXPECTANCY_FILE).exists()


def test_merge_refuses_one_input_given_twice(cfg, tmp_path):
    """A log whose lines all give no event has no key range to overlap: merging its
    state twice (the same directory, or two saved from the same log) would count its
    rejects twice where a replay of the two reads the log once. Refused; a log of
    other lines beside it is not."""
    log = write_sources(tmp_path / "in", [[b"not json", b'{"event":"trade","ts":"x"}']])
    other = write_sources(tmp_path / "other", [[b"not json"]])
    for k, src in (("a", log), ("b", log), ("c", other)):
        replay_sources(src, cfg.intel, state_dir=tmp_path / k, save_state=True)
    for dirs in (["a", "a"], ["a", "b"]):
        with pytest.raises(FundStateError, match="the same input"):
            merge_states([tmp_path / d for d in dirs], cfg.intel, state_dir=tmp_path / "o")
        assert not (tmp_path / "o" / EXPECTANCY_FILE).exists()
    got, _, _ = merge_states([tmp_path / "a", tmp_path / "c"], cfg.intel, state_dir=tmp_path / "o")
    want = replay_sources([*log, *other], cfg.intel, state_dir=tmp_path / "r", publish=False)
    assert got["inputs"] == want.expectancy["inputs"]


# --- the command line -----------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "execution.intel", *args],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def assert_one_line_error(r: subprocess.CompletedProcess[str], message: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.startswith("error: ") and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("broken", ["missing", "corrupt_gz", "directory"])
def test_a_bad_source_is_a_one_line_error_and_nothing_is_published(tmp_path, broken):
    good = write_sources(tmp_path / "in", [[event_line("trade", 1e9, 1, "X", 1.0, "s")]])[0]
    bad = tmp_path / ("b.jsonl.gz" if broken == "corrupt_gz" else "b.jsonl")
    if broken == "corrupt_gz":
        bad.write_bytes(gzip.compress(b'{"a": 1}\n' * 100)[:-12])
    elif broken == "directory":
        bad.mkdir()
    r = cli("replay", good, str(bad), "--state-dir", str(tmp_path / "out"))
    assert_one_line_error(r, str(bad))
    assert not (tmp_path / "out" / EXPECTANCY_FILE).exists()


def test_merge_on_the_command_line(tmp_path):
    a = [event_line("trade", 1e9 + i, i, "X", 1.0, "s") for i in range(5)]
    b = [event_line("trade", 2e9 + i, 10 + i, "Y", -1.0, "s") for i in range(5)]
    pa, pb = write_sources(tmp_path / "in", [a, b])
    for p, d in ((pa, "a"), (pb, "b")):
        assert cli("replay", p, "--state-dir", str(tmp_path / d), "--save-state").returncode == 0
    assert cli("replay", pa, pb, "--state-dir", str(tmp_path / "both")).returncode == 0
    r = cli("merge", str(tmp_path / "b"), str(tmp_path / "a"), "--state-dir", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    both, merged = (
        json.loads((tmp_path / d / EXPECTANCY_FILE).read_text()) for d in ("both", "m")
    )
    assert_close(without_wall_time(merged), without_wall_time(both))
    # a directory without a saved state, and a bad --cluster, are refused
    r = cli("merge", str(tmp_path / "a"), str(tmp_path / "both"), "--state-dir", str(tmp_path))
    assert_one_line_error(r, "no expectancy_v6.fund-state.json")
    r = cli("replay", "--cluster", "localhost", pa, "--state-dir", str(tmp_path / "x"))
    assert_one_line_error(r, "bad --cluster 'localhost'")


def test_a_missing_source_is_named(tmp_path):
    with pytest.raises(InputError, match=r"nope\.jsonl: no such file"):
        list_sources([str(tmp_path / "nope.jsonl")])
    with pytest.raises(InputError, match="no file matches"):
        list_sources([str(tmp_path / "*.jsonl")])


def test_sources_by_url_through_fsspec(cfg):
    """A URL of another protocol (here fsspec's in-memory one) is listed, its rotated
    set found and its parts read through fsspec, with the same documents."""
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    old = [event_line("trade", 1e9 + i, i, "BTC", 1.0, "a") for i in range(6)]
    new = [event_line("trade", 1e9 + 6 + i, 6 + i, "BTC", -2.0, "a") for i in range(6)]
    other = [event_line("order", 1e9 + i + 0.5, 60 + i, "ETH", 1.0, "b") for i in range(9)]
    fs.pipe("/fund/a.jsonl.1.gz", gzip.compress(b"".join(x + b"\n" for x in old)))
    fs.pipe("/fund/a.jsonl", b"".join(x + b"\n" for x in new))
    fs.pipe("/fund/b.jsonl", b"".join(x + b"\n" for x in other))
    try:
        sources = list_sources(["memory://fund/a.jsonl", "memory:///fund/b.jsonl"])
        assert [len(s.files) for s in sources] == [2, 1]
        parts = plan_parts(sources, 100)
        assert len(parts) > 3
        engine = ExpectancyEngine.from_config(cfg.intel)
        fold_ordered(engine, parts, [read_part(p) for p in parts], 4)
        with pytest.raises(InputError, match="no such file"):
            list_sources(["memory://fund/missing.jsonl"])
    finally:
        fs.rm("/fund", recursive=True)
    labels = ["memory://fund/a.jsonl", "memory:///fund/b.jsonl"]
    want = reference([old + new, other], ExpectancyEngine.from_config(cfg.intel), labels)
    assert_close(engine.document(generated_at=0.0), want)
