"""De-duplication across the cuts of a parallel replay.

Each part starts its de-duplication from a seed (the ids of the lines before its
cut) and records its head: the ids its decoder was offered and which it rejected,
up to the ``horizon``-th it added. Before a part is merged its head is decided again
against the true recent ids; only when every decision agrees is it merged, else it
is folded again in order. These tests hold the law under that rule (a part that
agrees merges into exactly the one-pass recent ids), the replay's answer against a
one-process replay with duplicates, rejects, horizon edges and group limits placed
at the cuts, that the parts really merge on a dirty log, and that wrong seeds only
cost a fold again, never a different answer."""

from __future__ import annotations

import itertools
import json
from unittest import mock

import msgspec
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

import execution.intel.replay_parts as parts_mod
from benchmarks.generate import events as generated_lines
from execution.intel.events import event_id, make_decoder
from execution.intel.replay_parts import head_agrees, plan_parts
from execution.intel.runner import replay
from streaming.recent_ids import RecentIds
from tests.intel.builders import T0, assert_close, good_event, line

WINDOWS = ("all", "3t", "2h")
WIDTH = 400  # every line padded to this many bytes, so the cuts fall at known lines
KEYS = st.lists(st.sampled_from("abcdefghijkl"), max_size=50)  # few keys: many repeats


def feed(recent: RecentIds, keys: list[str], splits: list[int], one_by_one: bool) -> list[int]:
    """Offer ``keys`` in batches cut at ``splits`` (or one key at a time through
    ``admit``, as the single-line decoder does); the positions that were duplicates."""
    if one_by_one:
        return [i for i, k in enumerate(keys) if not recent.admit(k)]
    dups: list[int] = []
    bounds = sorted({0, len(keys), *(s % (len(keys) + 1) for s in splits)})
    for a, b in itertools.pairwise(bounds):
        dups += [a + i for i in recent.add_many(keys[a:b])]
    return dups


# --- the law on the recent ids ------------------------------------------------------------


@given(
    before=KEYS,
    part=KEYS,
    seed=KEYS,
    exact_seed=st.booleans(),
    horizon=st.integers(1, 8),
    splits=st.lists(st.integers(0, 60), max_size=4),
    one_by_one=st.booleans(),
)
@settings(max_examples=max(100, settings.default.max_examples))
def test_a_part_that_decides_its_head_alike_merges_into_the_one_pass_recent_ids(
    *, before, part, seed, exact_seed, horizon, splits, one_by_one
):
    """A part folded from any seed: its head agrees with the true recent ids at the
    cut exactly when every one of its decisions (not only the head's) is the one
    pass's; then merging its recent ids (its own additions) after the true ones is
    the one pass's recent ids, in order. A seed equal to the true ids always agrees,
    and the check leaves the true ids as they were."""
    one = RecentIds(horizon)
    one.add_many(before)
    at_cut = one.copy()
    true_dups = one.add_many(part)
    worker = RecentIds(horizon)
    worker.reset(list(at_cut) if exact_seed else seed)
    worker.trace(horizon)
    dups = feed(worker, part, splits, one_by_one)
    head = worker.untrace()
    if not head.complete:
        worker.reset(head.additions())
    held = list(at_cut)
    agrees = head_agrees(at_cut, head)
    assert list(at_cut) == held
    assert agrees == (dups == true_dups)
    if exact_seed:
        assert agrees
    if agrees:
        at_cut.merge(worker)
        assert list(at_cut) == list(one)


@given(
    start=KEYS,
    keys=KEYS,
    limit=st.integers(0, 10),
    horizon=st.integers(1, 8),
    splits=st.lists(st.integers(0, 60), max_size=4),
    one_by_one=st.booleans(),
)
@example(start=[], keys=["a", "a"], limit=1, horizon=1, splits=[], one_by_one=False)
def test_a_trace_is_the_offered_ids_up_to_the_limit_th_addition(
    *, start, keys, limit, horizon, splits, one_by_one
):
    """The trace holds the keys offered, in order, up to and including the one whose
    addition was the ``limit``-th, with the positions of the duplicates among them,
    however the keys came (batches of any size, or one at a time)."""
    recent = RecentIds(horizon, start)
    recent.trace(limit)
    dups = feed(recent, keys, splits, one_by_one)
    trace = recent.untrace()
    added = [i for i in range(len(keys)) if i not in set(dups)]
    end = 0 if limit == 0 else (added[limit - 1] + 1 if len(added) >= limit else len(keys))
    assert trace.ids == keys[:end]
    assert trace.dups == [i for i in dups if i < end]
    assert trace.complete == (len(added) >= limit)
    assert trace.additions() == [keys[i] for i in added[:limit]]
    assert recent.untrace().ids == []  # stopped


# --- replays --------------------------------------------------------------------------------


def padded(raw: bytes) -> bytes:
    assert len(raw) <= WIDTH, raw
    return raw + b" " * (WIDTH - len(raw))


def write(path, lines):
    path.write_bytes(b"".join(ln + b"\n" for ln in lines))
    return path


def cut_lines(n: int, jobs: int) -> list[int]:
    """The line indices where :func:`plan_parts` cuts ``n`` lines of ``WIDTH`` bytes."""
    size, step = n * (WIDTH + 1), WIDTH + 1
    target, start, cuts = max(1, size // jobs), 0, []
    while len(cuts) < jobs - 1 and size - start > target:
        cut = -(-(start + target) // step) * step
        if cut >= size:
            break
        cuts.append(cut // step)
        start = cut
    return cuts


def candidates(lines: list[bytes]) -> list[str]:
    """The ids a one-pass decoder is offered: events that decode and pass the check."""
    events, _ = make_decoder(None).decode_many(lines)
    return [event_id(e) for e in events]


def widest_span(ids: list[str]) -> int:
    """The most candidates between an id's first and last occurrence."""
    first: dict[str, int] = {}
    span = 0
    for i, k in enumerate(ids):
        span = max(span, i - first.setdefault(k, i))
    return span


KINDS = (
    "dup_near",  # an id from the few lines before: straddles the cut when they are before it
    "dup_far",  # an id from anywhere before, often more than one part back
    "dup_edge",  # an id about ``horizon`` lines back: it ages out at or around the cut
    "invalid_with_id",  # a line that does not decode, carrying a near id (not offered)
    "checked_out",  # decodes but fails the record check (R out of range): not offered
    "garbage",
    "unknown_kind",
    "new_symbol",  # groups beyond a small ``max_groups``
    "good",
)


@st.composite
def cut_log(draw: st.DrawFn, jobs: int, horizon: int) -> list[bytes]:
    """Fixed-width lines of good events with hostile lines drawn a little before, at
    and after each place a ``jobs``-part plan cuts them."""
    n = draw(st.integers(16, 72))
    ts, events = T0, []
    for i in range(n):
        ts += draw(st.sampled_from([0.0, 60.0, 600.0, 3600.0]))
        events.append(draw(good_event(i, ts)))
    lines = [padded(line(e)) for e in events]
    fresh = n
    for cut in cut_lines(n, jobs):
        for at in draw(st.lists(st.integers(-3, 2), min_size=1, max_size=4, unique=True)):
            i = min(max(cut + at, 1), n - 1)
            kind = draw(st.sampled_from(KINDS))
            here = events[i]
            if kind == "dup_near":
                j = draw(st.integers(max(0, i - 6), i - 1))
            elif kind == "dup_far":
                j = draw(st.integers(0, i - 1))
            elif kind == "dup_edge":
                j = min(max(0, i - horizon + draw(st.integers(-1, 1))), i - 1)
            else:
                j = draw(st.integers(max(0, i - 6), min(n - 1, i + 6)))
            if kind.startswith("dup"):
                e = {**events[j], "ts": here["ts"]}
            elif kind == "invalid_with_id":
                e = {**events[j], "ts": "soon"}
            elif kind == "checked_out":  # R = 5e12, beyond the bound of 1e12
                e = {**draw(good_event(fresh, here["ts"], "trade")), "pnl_usd": 5e3}
                e = {**e, "risk_usd": 1e-9, "trade_id": events[j].get("trade_id", f"x{fresh}")}
            elif kind == "garbage":
                lines[i] = padded(b'{"event": "trade", "ts": ' + str(here["ts"]).encode())
                continue
            elif kind == "unknown_kind":
                e = {"event": "heartbeat", "ts": here["ts"], "symbol": "BTCUSDT"}
            elif kind == "new_symbol":
                sym = draw(st.sampled_from(["XRPUSDT", "ADAUSDT", "DOTUSDT"]))
                e = {**draw(good_event(fresh, here["ts"])), "symbol": sym}
            else:
                e = draw(good_event(fresh, here["ts"]))
            fresh += 1
            lines[i] = padded(json.dumps(e).encode())
    return lines


def assert_same(one, many):
    """Every count, every figure within 1e-9, the score document and the lines read."""
    assert many.expectancy["inputs"] == one.expectancy["inputs"]
    assert many.expectancy["as_of"] == one.expectancy["as_of"]
    assert_close(many.expectancy["windows"], one.expectancy["windows"])
    assert_close(
        {k: v for k, v in many.scores.items() if k != "generated_at"},
        {k: v for k, v in one.scores.items() if k != "generated_at"},
    )
    assert many.lines == one.lines


@given(
    data=st.data(),
    jobs=st.integers(2, 4),
    horizon=st.sampled_from([1, 2, 3, 5, 8, 16, 100_000]),
    max_groups=st.sampled_from([20_000, 3]),
    seed_read=st.sampled_from([100, WIDTH + 1, 3 * (WIDTH + 1), parts_mod.SEED_READ]),
)
@settings(max_examples=max(10, settings.default.max_examples // 3))
def test_parts_equal_one_process_with_duplicates_at_the_cuts(
    *, tmp_path_factory, cfg, data, jobs, horizon, max_groups, seed_read
):
    """``replay --jobs 2..4`` of a log with duplicates straddling the cuts, from more
    than one part back and about a horizon back, lines rejected around the cuts,
    parts shorter than the horizon, horizon 1 and group limits: every input count
    and every figure of a one-process replay. Seeds are read back in steps of a
    fraction of a line to the whole log, so some hold a tight horizon (and miss
    older ids), some the whole log before the cut. When no id's occurrences lie more
    than a horizon of offered ids apart (always so here with horizon 100,000) and no
    group limit is met, every part merged: the seed decided the head as one pass."""
    lines = data.draw(cut_log(jobs, horizon))
    d = tmp_path_factory.mktemp("dedup")
    log = write(d / "rm.jsonl", lines)
    plan = plan_parts([log], jobs)
    assert [part[-1][2] // (WIDTH + 1) for part in plan[:-1]] == cut_lines(len(lines), jobs)
    intel = msgspec.structs.replace(cfg.intel, dedup_horizon=horizon, max_groups=max_groups)
    kw = dict(state_dir=d, publish=False, windows=WINDOWS)
    one = replay([log], intel, jobs=1, **kw)
    with mock.patch.object(parts_mod, "SEED_READ", seed_read):  # forked workers see it
        many = replay([log], intel, jobs=jobs, parallel_min_bytes=0, floor_tail_bytes=WIDTH, **kw)
    assert_same(one, many)
    event(many.parallel.split(":")[0] if "one process" in many.parallel else many.parallel[8:])
    if "one process" in many.parallel:  # the watermark floor's own fallback
        return
    if max_groups == 20_000 and widest_span(candidates(lines)) <= horizon:
        assert many.refolded == ()
        assert many.parallel == f"{len(plan)} parts, all merged"


@pytest.mark.parametrize("jobs", [2, 3])
def test_a_dirty_log_merges_every_part(cfg, tmp_path, monkeypatch, jobs):
    """The benchmark's dirty log (2 % bad lines, a sixth of them duplicates of a
    recent line) with parts longer than the horizon, so each seed is read back only
    about a horizon deep: every part starts with duplicates of ids before its cut
    (the former rule folded each of them again) and yet every part merges, with the
    answer of one process."""
    horizon = 7_500
    monkeypatch.setattr(parts_mod, "SEED_READ", 1 << 16)  # read back little beyond it
    lines = [ln.encode() for ln in generated_lines(30_000, seed=3, bad=0.02)]
    log = write(tmp_path / "rm.jsonl", lines)
    plan = plan_parts([log], jobs)
    assert len(plan) == jobs
    ids = candidates(lines)
    assert widest_span(ids) <= horizon  # duplicates are of recent lines
    starts = []
    for part in plan[1:]:
        path, start, _ = part[0]
        starts.append(len(candidates(path.read_bytes()[:start].splitlines())))
    for k, at in enumerate(starts):
        before, head = set(ids[:at]), ids[at : at + horizon]
        assert not before.isdisjoint(head), f"part {k + 1} starts with no duplicate"
        assert at > horizon + horizon // 32 + 1_000  # its seed does not reach the log's start
    intel = msgspec.structs.replace(cfg.intel, dedup_horizon=horizon)
    kw = dict(state_dir=tmp_path, publish=False, windows=WINDOWS)
    one = replay([log], intel, jobs=1, **kw)
    many = replay([log], intel, jobs=jobs, parallel_min_bytes=0, **kw)
    assert one.expectancy["inputs"]["reject_reasons"]["duplicate_id"] > 50
    assert_same(one, many)
    assert many.refolded == ()
    assert many.parallel == f"{jobs} parts, all merged"


def straddling_log(n: int, jobs: int) -> list[bytes]:
    """``n`` fixed-width trades, with the line at each cut repeating the id of the
    line just before it (a duplicate across every cut)."""
    events = [
        {"event": "trade", "ts": T0 + 60 * i, "symbol": "BTCUSDT", "trade_id": f"t{i}",
         "pnl_usd": float(i % 7 - 3), "risk_usd": 10.0}
        for i in range(n)
    ]  # fmt: skip
    for cut in cut_lines(n, jobs):
        events[cut] = {**events[cut - 1], "ts": events[cut]["ts"], "pnl_usd": 99.0}
    return [padded(line(e)) for e in events]


@pytest.mark.parametrize("seed", ["empty", "the lines after the cut"])
@pytest.mark.parametrize("jobs", [2, 4])
def test_wrong_seeds_fall_back_to_folding_again_with_the_exact_answer(
    cfg, tmp_path, monkeypatch, seed, jobs
):
    """With seeds that lack the ids before the cut (empty), or hold ids one pass has
    not seen yet (those of the part's own first lines), every part's head disagrees
    and is folded again in order: the answer is still the one-process replay's."""
    lines = straddling_log(60, jobs)
    log = write(tmp_path / "rm.jsonl", lines)
    real = parts_mod.seed_ids

    def wrong(files, at, horizon, *args):
        if seed == "empty":
            return []
        path, start = at
        after = path.read_bytes()[start:].splitlines()[:3]
        return candidates(after) if start else real(files, at, horizon, *args)

    monkeypatch.setattr(parts_mod, "seed_ids", wrong)  # the workers are forked after this
    kw = dict(state_dir=tmp_path, publish=False, windows=WINDOWS)
    one = replay([log], cfg.intel, jobs=1, **kw)
    many = replay([log], cfg.intel, jobs=jobs, parallel_min_bytes=0, floor_tail_bytes=WIDTH, **kw)
    assert one.expectancy["inputs"]["reject_reasons"]["duplicate_id"] == jobs - 1
    assert_same(one, many)
    assert many.refolded == tuple(range(1, jobs))
    assert many.parallel == f"{jobs} parts, 1 merged, {jobs - 1} folded again in order"


def test_the_true_seeds_merge_the_straddling_duplicates(cfg, tmp_path):
    """The same log with the real seeds: the duplicate at each cut is rejected by the
    part itself, which then merges."""
    lines = straddling_log(60, 4)
    log = write(tmp_path / "rm.jsonl", lines)
    kw = dict(state_dir=tmp_path, publish=False, windows=WINDOWS)
    one = replay([log], cfg.intel, jobs=1, **kw)
    many = replay([log], cfg.intel, jobs=4, parallel_min_bytes=0, floor_tail_bytes=WIDTH, **kw)
    assert_same(one, many)
    assert many.refolded == ()


def test_a_fold_whose_decisions_the_trace_missed_is_folded_again(cfg, tmp_path, monkeypatch):
    """When de-duplication bypasses the trace (here: batches added without telling
    it), the head cannot vouch for the part: it is folded again, never merged on an
    empty head, and the answer is still the one-process replay's."""
    lines = straddling_log(60, 3)
    log = write(tmp_path / "rm.jsonl", lines)
    monkeypatch.setattr(RecentIds, "add_many", RecentIds._add_many)  # forked workers too
    kw = dict(state_dir=tmp_path, publish=False, windows=WINDOWS)
    one = replay([log], cfg.intel, jobs=1, **kw)
    many = replay([log], cfg.intel, jobs=3, parallel_min_bytes=0, floor_tail_bytes=WIDTH, **kw)
    assert_same(one, many)
    assert many.refolded == (1, 2)
