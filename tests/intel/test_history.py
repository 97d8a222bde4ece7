"""The snapshot history (docs/history.md): the cut rule under any chunking, the
snapshots against an engine fed exactly the events before each cut, the store's
idempotence and retention, replay twice, and ``show --history``."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import jsonschema
import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

import execution.intel.history as history_mod
from benchmarks.generate import events as generated
from execution.config import (
    ConfigError,
    IntelConfig,
    ScoreConfig,
    load_config,
    load_intel_config,
)
from execution.executor_live import main as executor
from execution.intel.cli import main
from execution.intel.cli_history import show_history
from execution.intel.engine import ExpectancyEngine
from execution.intel.follow_runner import FollowRunner
from execution.intel.history import (
    FUND_FIELDS,
    SYMBOL_FIELDS,
    Snapshot,
    Snapshotter,
    bucket_of,
    cuts,
    rounded,
    snapshot,
)
from execution.intel.history_store import HistoryError, HistoryStore, read_fund, read_symbol
from execution.intel.runner import replay
from tests.support import CONFIG_DIR, load_schema

CADENCE = 300
WINDOWS = ["all", "20t", "1h"]
SCORE = ScoreConfig(window="20t")


def lines(n: int, seed: int = 3, per_day: float = 20_000.0) -> list[bytes]:
    return [x.encode() for x in generated(n, seed=seed, symbols=6, per_day=per_day, bad=0.01)]


def config(cadence: int = CADENCE, **history: object) -> IntelConfig:
    cfg = load_config(CONFIG_DIR).intel
    h = msgspec.structs.replace(cfg.history, cadence_s=cadence, windows=[], **history)
    return msgspec.structs.replace(cfg, history=h)


# --- the cut rule ---------------------------------------------------------------------

stamps = st.lists(st.floats(0, 5_000, allow_nan=False), max_size=60)


def reference_cuts(ts: list[float], cadence: int) -> list[tuple[int, int]]:
    """Before event i, the bucket of the largest ts so far closes when i's bucket is later."""
    out = []
    for i in range(1, len(ts)):
        before = math.floor(max(ts[:i]) / cadence) * cadence
        if math.floor(ts[i] / cadence) * cadence > before:
            out.append((i, before))
    return out


@given(stamps, st.integers(1, 900))
def test_cuts_equal_the_plain_rule(ts, cadence):
    assert cuts(ts, None, cadence)[0] == reference_cuts(ts, cadence)


@given(stamps, st.lists(st.integers(0, 60), max_size=5), st.integers(1, 900))
def test_cuts_do_not_depend_on_the_chunking(ts, splits, cadence):
    whole, top = cuts(ts, None, cadence)
    got: list[tuple[int, int]] = []
    at, state = 0, None
    for end in [*sorted(s for s in splits if s <= len(ts)), len(ts)]:
        part, state = cuts(ts[at:end], state, cadence)
        got += [(i + at, b) for i, b in part]
        at = end
    assert got == whole and state == top


def test_a_bucket_is_half_open():
    assert bucket_of(299.999, 300) == 0 and bucket_of(300.0, 300) == 300
    assert bucket_of(-0.001, 300) == -300


# --- snapshots ------------------------------------------------------------------------


def take_all(chunks: list[list[bytes]]) -> tuple[list[Snapshot], ExpectancyEngine]:
    engine = ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05)
    snapper = Snapshotter(engine, CADENCE, [], SCORE)
    out: list[Snapshot] = []
    for chunk in chunks:
        out += snapper.feed(chunk)
    return out, engine


def test_each_snapshot_is_the_engine_fed_exactly_the_events_before_its_cut():
    data = lines(1_500)
    snaps, _ = take_all([data])
    assert len(snaps) > 5
    decoded = ExpectancyEngine(WINDOWS).decode_frames(data)
    ts = [e.ts for e in decoded]
    for (i, bucket), snap in zip(cuts(ts, None, CADENCE)[0], snaps, strict=True):
        assert snap.bucket == bucket
        ref = ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05)
        ref.apply_many(decoded[:i])
        want = snapshot(ref.document(generated_at=0.0), bucket, WINDOWS, SCORE)
        assert snap == want
        assert snap.as_of is not None and bucket <= snap.as_of < bucket + CADENCE


CHUNKED = lines(700)
WHOLE = take_all([CHUNKED])[0]


@settings(max_examples=12, deadline=None)  # each example takes about 100 snapshots
@given(st.lists(st.integers(1, len(CHUNKED) - 1), max_size=8))
def test_snapshots_do_not_depend_on_the_chunking(splits):
    cut = sorted(set(splits))
    chunks = [CHUNKED[a:b] for a, b in zip([0, *cut], [*cut, len(CHUNKED)], strict=True)]
    assert take_all(chunks)[0] == WHOLE


def test_a_restored_snapshotter_continues_where_it_was():
    data = lines(1_200)
    whole, _ = take_all([data])
    engine = ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05)
    snapper = Snapshotter(engine, CADENCE, [], SCORE)
    first = snapper.feed(data[:500])
    again = ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05)
    again.restore(json.loads(json.dumps(engine.to_state())))
    restored = Snapshotter(again, CADENCE, [], SCORE)
    restored.restore(json.loads(json.dumps(snapper.to_state())))
    assert first + restored.feed(data[500:]) == whole


def test_records_carry_every_field_and_the_fund_sums_the_symbols():
    snaps, _ = take_all([lines(800)])
    snap = snaps[-1]
    for r in snap.symbols:
        assert set(r) == {"bucket", "window", "symbol", *SYMBOL_FIELDS}
    for f in snap.fund:
        assert set(f) == {"bucket", "window", *FUND_FIELDS}
        mine = [r for r in snap.symbols if r["window"] == f["window"]]
        assert f["symbols"] == len(mine)
        assert f["trades"] == sum(r["trades"] for r in mine)
        assert math.isclose(f["pnl_usd"], math.fsum(r["pnl_usd"] or 0 for r in mine), abs_tol=1e-6)


def test_rounding_keeps_whole_numbers_and_ten_digits():
    rec = rounded({"trades": 123456789012.0, "avg_r": 1 / 3, "score": -1e-11, "x": None})
    assert rec == {"trades": 123456789012.0, "avg_r": 0.3333333333, "score": 0.0, "x": None}


# --- the store ------------------------------------------------------------------------


def fake(bucket: int, symbols: int = 3) -> Snapshot:
    recs = [
        {"bucket": bucket, "window": "all", "symbol": f"S{i}", **dict.fromkeys(SYMBOL_FIELDS)}
        for i in range(symbols)
    ]
    fund = [{"bucket": bucket, "window": "all", **dict.fromkeys(FUND_FIELDS)}]
    return Snapshot(bucket, float(bucket), recs, fund)


def test_a_bucket_already_stored_is_not_stored_again(tmp_path):
    with HistoryStore(tmp_path / "h.sqlite", cadence_s=60) as store:
        assert store.append([fake(0), fake(60)]) == 2
        assert store.append([fake(60), fake(0), fake(120)]) == 1
        assert store.buckets() == [0, 60, 120]
    assert len(read_symbol(tmp_path / "h.sqlite", "S1")) == 3


@settings(max_examples=min(settings.default.max_examples, 60), deadline=None)
@given(
    st.lists(st.integers(0, 200), min_size=1, max_size=40),
    st.integers(1, 10),
    st.integers(1, 100),
)
def test_retention_keeps_the_newest_by_count_and_age(tmp_path_factory, seq, max_buckets, age):
    path = tmp_path_factory.mktemp("h") / "h.sqlite"
    with HistoryStore(path, cadence_s=1, max_age_s=age, max_buckets=max_buckets) as store:
        model: set[int] = set()
        for b in seq:
            store.append([fake(b, 1)])
            if b not in model:
                newest = max(model | {b})
                candidates = sorted(model | {b})
                cutoff = newest - age
                if len(candidates) >= max_buckets:
                    cutoff = max(cutoff, candidates[-max_buckets])
                model = {x for x in candidates if x >= cutoff}
            kept = store.buckets()
            assert kept == sorted(model)
            assert len(kept) <= max_buckets and kept[-1] - kept[0] <= age
        rows = store.db.execute("SELECT DISTINCT bucket FROM symbols ORDER BY bucket").fetchall()
        assert [b for (b,) in rows] == kept


def test_another_cadence_is_refused(tmp_path):
    HistoryStore(tmp_path / "h.sqlite", cadence_s=60).close()
    try:
        HistoryStore(tmp_path / "h.sqlite", cadence_s=3600)
    except ValueError as exc:
        assert "cadence of 60 s" in str(exc)
    else:
        raise AssertionError("a store of another cadence was opened")


# --- replay and the CLI ---------------------------------------------------------------


def write_log(tmp_path: Path, n: int = 2_000) -> Path:
    log = tmp_path / "router_metrics.jsonl"
    log.write_bytes(b"".join(x + b"\n" for x in lines(n)))
    return log


def dump(path: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return [
            *db.execute("SELECT * FROM buckets ORDER BY bucket"),
            *db.execute("SELECT * FROM symbols ORDER BY symbol, window, bucket"),
            *db.execute("SELECT * FROM fund ORDER BY window, bucket"),
        ]
    finally:
        db.close()


def test_replay_twice_gives_the_same_history_and_stores_nothing_twice(tmp_path):
    log, cfg = write_log(tmp_path), config()
    one = replay([log], cfg, state_dir=tmp_path / "a", history=True, publish=False)
    two = replay([log], cfg, state_dir=tmp_path / "b", history=True, publish=False)
    assert one.snapshots and one.snapshots == two.snapshots
    assert one.parallel == "one process"
    name = cfg.history.file
    assert dump(tmp_path / "a" / name) == dump(tmp_path / "b" / name)
    again = replay([log], cfg, state_dir=tmp_path / "a", history=True, publish=False)
    assert again.snapshots == 0
    assert dump(tmp_path / "a" / name) == dump(tmp_path / "b" / name)


def test_replay_with_history_is_one_in_order_pass(tmp_path):
    log, cfg = write_log(tmp_path), config()
    got = replay(
        [log], cfg, state_dir=tmp_path / "s", history=True, jobs=2, parallel_min_bytes=0
    )
    assert got.parallel.startswith("one process: the history")
    plain = replay([log], cfg, state_dir=tmp_path / "p", jobs=1)
    assert got.expectancy["inputs"] == plain.expectancy["inputs"]


def test_show_history_json_is_oldest_first_and_follows_the_schema(tmp_path, capsys):
    log = write_log(tmp_path)
    cfg_file = tmp_path / "intel.json"
    cfg_file.write_bytes(msgspec.json.encode(config()))
    state = str(tmp_path / "s")
    assert main(["replay", str(log), "--state-dir", state, "--config", str(cfg_file)]) == 0
    capsys.readouterr()
    validator = jsonschema.Draft202012Validator(load_schema("history_v6.schema.json"))
    for name in ("S001USDT", "FUND"):
        args = ["show", "--state-dir", state, "--config", str(cfg_file), "--history", name]
        assert main([*args, "--json", "--window", "all"]) == 0
        out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        assert len(out) > 5
        for rec in out:
            validator.validate(rec)
        assert [r["bucket"] for r in out] == sorted(r["bucket"] for r in out)
        assert main(args) == 0
        assert "cumulative R" in capsys.readouterr().out
    stored = read_fund(tmp_path / "s" / "history_v6.sqlite", "all")
    assert [r["bucket"] for r in stored] == [r["bucket"] for r in out]


def test_show_history_errors_are_one_line_exit_2(tmp_path, capsys):
    log = write_log(tmp_path, 600)
    cfg_file = tmp_path / "intel.json"
    cfg_file.write_bytes(msgspec.json.encode(config()))
    state = str(tmp_path / "s")
    base = ["show", "--state-dir", state, "--config", str(cfg_file)]
    assert main([*base, "--history", "S001USDT"]) == 2  # no history yet
    assert main(["replay", str(log), "--state-dir", state, "--config", str(cfg_file)]) == 0
    capsys.readouterr()
    for extra in (["--history", "NOPE"], ["--history", "S001USDT", "--window", "9t"], ["--json"]):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ")
    other = tmp_path / "other.json"
    other.write_bytes(msgspec.json.encode(config(cadence=60)))
    assert main(["replay", str(log), "--state-dir", state, "--config", str(other)]) == 2
    assert "cadence of 300 s" in capsys.readouterr().err
    # show under another cadence: the history is not what that configuration takes
    assert main(["show", "--state-dir", state, "--config", str(other), "--history", "FUND"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cadence of 300 s" in err
    # a damaged figure in the store: one line, never a traceback
    db = sqlite3.connect(Path(state) / "history_v6.sqlite")
    db.execute("UPDATE symbols SET avg_r = 'x' WHERE symbol = 'S001USDT'")
    db.execute("UPDATE fund SET pnl_usd = 9e999")
    db.commit()
    db.close()
    for name in ("S001USDT", "FUND"):
        for extra in ([], ["--json"]):
            assert main([*base, "--history", name, *extra]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "damaged record" in err, err


def test_a_symbol_named_with_a_newline_keeps_the_error_on_one_line(tmp_path, capsys):
    log = tmp_path / "router_metrics.jsonl"
    log.write_bytes(b"".join(x + b"\n" for x in twin_lines(2, 30)).replace(b'"S01"', b'"A\\nB"'))
    cfg_file = tmp_path / "intel.json"
    cfg_file.write_bytes(msgspec.json.encode(config()))
    state = str(tmp_path / "s")
    assert main(["replay", str(log), "--state-dir", state, "--config", str(cfg_file)]) == 0
    capsys.readouterr()
    assert main(["show", "--state-dir", state, "--config", str(cfg_file), "--history", "Z"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'A\\nB'" in err, err


def test_the_executors_tap_stores_the_history_of_a_replay(tmp_path):
    out = tmp_path / "run"
    assert executor(["--dry-run", "--sim-hours", "8", "--out", str(out), "--intel", "on"]) == 0
    cfg = load_config(CONFIG_DIR).intel
    log = out / "execution" / "router_metrics.jsonl"
    want = replay([log], cfg, state_dir=tmp_path / "replayed", history=True, publish=False)
    assert want.snapshots and want.snapshots >= 5
    name = cfg.history.file
    assert dump(out / "state" / name) == dump(tmp_path / "replayed" / name)


def test_history_config_errors_name_the_field(tmp_path):
    for history, where in (
        ({"windows": ["7x"]}, "$.history.windows[0]"),
        ({"file": "../h.sqlite"}, "$.history.file"),
        ({"cadence_s": 0}, "$.history.cadence_s"),
    ):
        path = tmp_path / "intel.json"
        path.write_text(json.dumps({"history": history}))
        try:
            load_intel_config(path)
        except ConfigError as exc:
            assert where in str(exc) and "\n" not in str(exc)
        else:
            raise AssertionError(f"{history} was accepted")


def test_a_store_that_cannot_be_written_fails_the_commit_and_is_retried(tmp_path):
    log = write_log(tmp_path, 1_500)
    runner = FollowRunner(log, config(), state_dir=tmp_path / "s", interval=0, history=True)
    while runner.poll():
        pass
    assert runner._snapshots
    broken = runner.history
    assert broken is not None

    def fail(_snapshots: object) -> int:
        raise HistoryError("history: disk full")

    real, broken.append = broken.append, fail  # type: ignore[method-assign]
    assert not runner.commit()
    assert runner.stats.commit_failures == 1 and "disk full" in runner.stats.last_error
    assert runner.store.load() is None  # no checkpoint past snapshots not stored
    broken.append = real  # type: ignore[method-assign]
    assert runner.commit() and not runner._snapshots
    assert runner.store.load() is not None and broken.buckets()
    runner.close()


def test_show_history_of_a_symbol_absent_from_the_window_is_an_error(tmp_path):
    path = tmp_path / "h.sqlite"
    snap = fake(0)
    other = {**snap.symbols[0], "window": "50t", "symbol": "ONLY50T"}
    with HistoryStore(path, cadence_s=60) as store:
        store.append([Snapshot(0, 0.0, [*snap.symbols, other], snap.fund)])
    assert show_history(path, "S1", "all", True).count("\n") == 0  # one record
    try:
        show_history(path, "ONLY50T", "all", True)
    except HistoryError as exc:
        assert "no records of ONLY50T under the window all" in str(exc)
    else:
        raise AssertionError("an empty history was shown")


def twin_lines(symbols: int = 12, trades: int = 40) -> list[bytes]:
    """Symbols with the very same trades (a stop at −1 R, a target at +2 R, in one
    shared pattern), interleaved: their scores are equal, so only the rounding of
    one chunking against another could order them."""
    out = []
    pattern = [2.0 if (i * 7) % 5 < 2 else -1.0 for i in range(trades)]
    for i, r in enumerate(pattern):
        for s in range(symbols):
            ts = 1_000_000.0 + (i * symbols + s) * 37.0
            out.append(json.dumps({"event": "trade", "ts": ts, "symbol": f"S{s:02d}",
                                   "trade_id": f"t{i}-{s}", "pnl_usd": 100.0 * r,
                                   "risk_usd": 100.0}).encode())  # fmt: skip
    return out


def test_ranks_follow_the_stored_scores_whatever_the_chunking():
    """Symbols whose stored (rounded) scores are equal rank by symbol in every
    chunking: the rank is a function of what is stored, not of the last bits of a
    score that another chunking computes a little differently."""
    data = twin_lines()
    whole = take_all([data])[0]
    assert whole
    for cut in (185, 301):
        assert take_all([data[:cut], data[cut:]])[0] == whole
    for snap in whole:
        for w in WINDOWS:
            recs = [r for r in snap.symbols if r["window"] == w and r["score"] is not None]
            order = sorted(recs, key=lambda r: (-r["score"], r["symbol"]))
            assert [r["rank"] for r in order] == list(range(1, len(order) + 1))


def test_a_score_a_last_bit_higher_does_not_outrank_an_equal_stored_one(monkeypatch):
    """Two symbols whose scores differ only in the last bits store the same rounded
    score; the one first by name ranks first (before: the last bits decided)."""
    real = history_mod.score_symbols

    def last_bit_apart(*args, **kwargs):  # S11 a last bit above its twin S00
        doc = real(*args, **kwargs)
        for e in doc["symbols"]:
            if e["symbol"] == "S11" and e["score"] is not None:
                e["score"] = math.nextafter(e["score"], math.inf)
        doc["symbols"].sort(key=lambda e: (-(e["score"] or 0.0), e["symbol"]))
        for rank, e in enumerate(doc["symbols"], 1):
            e["rank"] = rank
        return doc

    monkeypatch.setattr(history_mod, "score_symbols", last_bit_apart)
    engine = ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05)
    engine.feed_many(twin_lines())
    snap = snapshot(engine.document(generated_at=0.0), 0, WINDOWS, SCORE)
    for w in ("all", "20t"):  # the twins' trades alike (a time window cuts them apart)
        recs = {r["symbol"]: r for r in snap.symbols if r["window"] == w}
        assert recs["S00"]["score"] is not None
        assert recs["S00"]["score"] == recs["S11"]["score"]
        assert recs["S00"]["rank"] < recs["S11"]["rank"]


def test_a_state_directory_named_like_a_uri_is_read_as_named(tmp_path, capsys):
    """``?``, ``#`` and ``%41`` in the state directory's path are path characters:
    show reads the history that replay wrote there, and creates no other file."""
    log = write_log(tmp_path, 600)
    cfg_file = tmp_path / "intel.json"
    cfg_file.write_bytes(msgspec.json.encode(config()))
    (tmp_path / "pAx").mkdir()  # what "p%41x" would decode to
    state = tmp_path / "p%41x?q#h"
    assert main(["replay", str(log), "--state-dir", str(state), "--config", str(cfg_file)]) == 0
    capsys.readouterr()
    args = ["show", "--state-dir", str(state), "--config", str(cfg_file), "--history", "FUND"]
    assert main([*args, "--json", "--window", "all"]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["bucket"] for r in out] == [
        r["bucket"] for r in read_fund(state / "history_v6.sqlite", "all")
    ]
    assert out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["router_metrics.jsonl", "intel.json", "pAx", state.name]
    )
