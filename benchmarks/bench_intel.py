"""Execution-intel benchmarks against the batch a user would write, in one run.

    python -m benchmarks.bench_intel [--events 1000000] [--history 10000,1000000,10000000]
                                     [--repeat 3] [--out benchmarks/RESULTS.md]

Logs come from :mod:`benchmarks.generate` (seeded; about one bad line in a thousand,
plus a clean copy). Every measured job runs in its own process, so each peak RSS is
its own; figures are medians of ``--repeat`` runs.

* cold replay — whole process (interpreter, imports, read, decode, fold, publish of
  both documents) for the engine, the polars and the pandas implementation
  (:mod:`benchmarks.reference_polars`, :mod:`benchmarks.reference_pandas`) on the
  same file; their documents are compared with the engine's before any timing;
* incremental — absorb 1,000 new events and publish both documents, after 10k / 1M /
  10M events of history, vs polars recomputing everything from the file;
* executor — the dry-run loop's p50/p99 bar time with intel off and on, and the
  hook's cost per event of the log;
* publish — document build + write time and size with 500 symbols.

Nothing here asserts anything about time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import generate

CFG_DIR = Path("config")
INCREMENT = 1_000
STEPS = 5


# --- jobs (each runs in a child process) ------------------------------------------------


def _cfg() -> Any:
    from execution.config import load_config

    return load_config(CFG_DIR)


def job_engine(path: str) -> dict[str, Any]:
    from execution.intel.runner import replay

    with tempfile.TemporaryDirectory() as state:
        r = replay([path], _cfg().intel, state_dir=state, rotated=False)
    return {"events": r.expectancy["inputs"]["events"]}


def job_polars(path: str, clean: bool = False) -> dict[str, Any]:
    from benchmarks import reference_polars

    doc, _ = reference_polars.run(path, _cfg().intel, clean=clean)
    return {"events": doc["inputs"]["events"]}


def job_polars_clean(path: str) -> dict[str, Any]:
    return job_polars(path, clean=True)


def job_pandas(path: str) -> dict[str, Any]:
    from benchmarks import reference_pandas

    doc, _ = reference_pandas.run(path, _cfg().intel)
    return {"events": doc["inputs"]["events"]}


def job_agree(path: str) -> dict[str, Any]:
    """The engine's windows equal polars' and pandas' (floats within 1e-9)."""
    from benchmarks import reference_pandas, reference_polars
    from execution.intel.runner import replay
    from tests.intel.builders import assert_close

    cfg = _cfg().intel
    with tempfile.TemporaryDirectory() as state:
        ours = replay([path], cfg, state_dir=state, rotated=False, publish=False).expectancy
    out = {}
    for name, mod in (("polars", reference_polars), ("pandas", reference_pandas)):
        theirs, _ = mod.run(path, cfg)
        try:
            assert_close(theirs["windows"], ours["windows"])
            out[name] = "equal"
        except AssertionError as exc:
            out[name] = f"DIFFER: {str(exc)[:200]}"
    return out


def job_incremental(path: str) -> dict[str, Any]:
    """History = all but the last STEPS × INCREMENT lines; then time each increment."""
    from execution.intel.expectancy_v6 import ExpectancyEngine, load_lines
    from execution.intel.runner import REPLAY_BATCH, Publisher

    cfg = _cfg().intel
    lines = load_lines(path, rotated=False)
    history, tail = lines[: -STEPS * INCREMENT], lines[-STEPS * INCREMENT :]
    del lines
    engine = ExpectancyEngine.from_config(cfg)
    for i in range(0, len(history), REPLAY_BATCH):
        engine.feed_many(history[i : i + REPLAY_BATCH])
    n_history = len(history)
    del history
    with tempfile.TemporaryDirectory() as state:
        publisher = Publisher(Path(state), cfg.score)
        publisher.publish(engine)  # the first read after a replay builds the chunk folds
        times = []
        for k in range(STEPS):
            t0 = time.perf_counter()
            engine.feed_many(tail[k * INCREMENT : (k + 1) * INCREMENT])
            publisher.publish(engine)
            times.append(time.perf_counter() - t0)
        sizes = {p.name: p.stat().st_size for p in Path(state).iterdir()}
    t0 = time.perf_counter()
    state_bytes = len(json.dumps(engine.to_state()))
    checkpoint_s = time.perf_counter() - t0
    return {
        "history": n_history,
        "step_s": statistics.median(times),
        "doc_bytes": sizes,
        "checkpoint_bytes": state_bytes,
        "checkpoint_s": checkpoint_s,
    }


def job_publish(path: str) -> dict[str, Any]:
    from execution.intel.expectancy_v6 import ExpectancyEngine, load_lines
    from execution.intel.runner import Publisher

    cfg = _cfg().intel
    engine = ExpectancyEngine.from_config(cfg)
    engine.feed_many(load_lines(path, rotated=False))
    with tempfile.TemporaryDirectory() as state:
        publisher = Publisher(Path(state), cfg.score)
        publisher.publish(engine)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            publisher.publish(engine)
            times.append(time.perf_counter() - t0)
        sizes = {p.name: p.stat().st_size for p in Path(state).iterdir()}
    symbols = len(engine.document(generated_at=0.0)["windows"]["all"]["symbols"])
    return {"symbols": symbols, "publish_s": statistics.median(times), "doc_bytes": sizes}


class _Timed:
    """A hook wrapper adding the time spent in the hook to ``spent[0]``."""

    def __init__(self, hook: Any, spent: list[float]) -> None:
        self.hook, self.spent = hook, spent

    def on_bar(self, ts: float) -> None:
        t0 = time.perf_counter()
        try:
            self.hook.on_bar(ts)
        finally:
            self.spent[0] += time.perf_counter() - t0

    def close(self) -> None:
        t0 = time.perf_counter()
        try:
            self.hook.close()
        finally:
            self.spent[0] += time.perf_counter() - t0


def job_executor(bars: str) -> dict[str, Any]:
    """Per-bar times of the dry-run loop with intel off and on (interval 0.05 s, far
    more often than the default 5 s), and the hook's total time per event."""
    import dataclasses

    import msgspec

    from execution.executor_live import DryRunExecutor

    cfg = _cfg()
    out: dict[str, Any] = {}
    for on in (False, True, False, True):
        c = dataclasses.replace(
            cfg, intel=msgspec.structs.replace(cfg.intel, intel_enabled=on, publish_interval_s=0.05)
        )
        with tempfile.TemporaryDirectory() as d:
            ex = DryRunExecutor(c, seed=7, out_dir=d)
            hooks = ex.hooks
            spent = [0.0]
            hooks.hooks = [_Timed(h, spent) for h in hooks.hooks]
            step_times = []
            for _ in range(int(bars)):
                t0 = time.perf_counter()
                ex.step()
                step_times.append(time.perf_counter() - t0)
            ex.writer.close()
            hooks.close()
            events = ex.metrics_path.read_bytes().count(b"\n")
        step_times.sort()
        key = "on" if on else "off"
        out[key] = {  # the second run of each kind is kept (warm caches)
            "p50_ms": 1e3 * step_times[len(step_times) // 2],
            "p99_ms": 1e3 * step_times[int(len(step_times) * 0.99)],
            "events": events,
            "hook_s": spent[0],
        }
    return out


JOBS = {
    "engine": job_engine,
    "polars": job_polars,
    "polars_clean": job_polars_clean,
    "pandas": job_pandas,
    "agree": job_agree,
    "incremental": job_incremental,
    "publish": job_publish,
    "executor": job_executor,
}


def child(name: str, arg: str) -> None:
    t0 = time.perf_counter()
    out = JOBS[name](arg)
    out["seconds_in_process"] = time.perf_counter() - t0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run_job(name: str, arg: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_intel", "--job", name, arg],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["seconds"] = time.perf_counter() - t0
    return out


def median_job(name: str, arg: str, repeat: int) -> dict[str, Any]:
    runs = [run_job(name, arg) for _ in range(repeat)]
    runs.sort(key=lambda r: r["seconds"])
    return runs[len(runs) // 2]


# --- the report -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--job", nargs=2, metavar=("NAME", "ARG"), help=argparse.SUPPRESS)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--history", default="10000,1000000,10000000")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--bars", type=int, default=4032)
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "ei-bench"))
    p.add_argument("--out", default="benchmarks/RESULTS.md")
    a = p.parse_args(argv)
    if a.job:
        child(*a.job)
        return 0
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def say(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    def log_of(n: int, **kw: Any) -> str:
        tag = "_".join(f"{k}{v}" for k, v in sorted(kw.items()))
        path = work / f"rm_{n}{'_' + tag if tag else ''}.jsonl"
        if not path.exists():
            generate.write(path, n, **kw)
        return str(path)

    cmd = "python -m benchmarks.bench_intel " + " ".join(argv if argv is not None else sys.argv[1:])
    say("# Execution-intel benchmarks")
    say()
    say(f"Command: `{cmd.strip()}`  ")
    py = platform.python_version()
    say(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {py}, "
        f"{platform.system()}; medians of {a.repeat} runs unless noted.")  # fmt: skip
    say()

    n = a.events
    dirty, clean = log_of(n), log_of(n, bad=0)
    agree = run_job("agree", log_of(100_000))
    say(f"Documents on a 100k-event log: polars {agree['polars']}, pandas {agree['pandas']} "
        "(every window, dimension and figure vs the engine, floats within 1e-9).")  # fmt: skip
    say()
    say(f"## Cold replay, {n:,} events (whole process; windows all, 50t, 7d; both documents)")
    say()
    say("| implementation | log | seconds | events/s | peak RSS MB | engine ÷ it |")
    say("|---|---|---:|---:|---:|---:|")
    results = {}
    for name, path, label in (
        ("engine", dirty, "0.1% bad lines"),
        ("polars", dirty, "0.1% bad lines"),
        ("pandas", dirty, "0.1% bad lines"),
        ("engine", clean, "clean"),
        ("polars_clean", clean, "clean"),
    ):
        results[(name, label)] = median_job(name, path, a.repeat if name != "pandas" else 1)
    for (name, label), r in results.items():
        eng = results[("engine", label)]
        say(f"| {name} | {label} | {r['seconds']:.2f} | {n / r['seconds']:,.0f} | "
            f"{r['peak_rss_mb']:.0f} | {r['seconds'] / eng['seconds']:.2f}× |")  # fmt: skip
    say()

    say("## Incremental: absorb 1,000 events and publish both documents")
    say()
    say("| history | engine ms | polars from scratch s | polars ÷ engine | engine peak RSS MB | "
        "checkpoint MB | checkpoint encode s |")  # fmt: skip
    say("|---:|---:|---:|---:|---:|---:|---:|")
    base = None
    for h in (int(x) for x in a.history.split(",") if x):
        path = log_of(h + STEPS * INCREMENT)
        inc = run_job("incremental", path)
        pol = run_job("polars", path)
        base = base or inc["step_s"]
        say(f"| {h:,} | {1e3 * inc['step_s']:.1f} ({inc['step_s'] / base:.2f}× of the first) | "
            f"{pol['seconds_in_process']:.2f} | "
            f"{pol['seconds_in_process'] / inc['step_s']:,.0f}× | "
            f"{inc['peak_rss_mb']:.0f} | {inc['checkpoint_bytes'] / 1e6:.1f} | "
            f"{inc['checkpoint_s']:.2f} |")  # fmt: skip
    say()

    say(f"## Executor: dry-run loop, {a.bars} bars, intel publish interval 0.05 s")
    say()
    ex = run_job("executor", str(a.bars))
    off, on = ex["off"], ex["on"]
    say("| intel | bar p50 ms | bar p99 ms | log events | hook s | hook µs/event |")
    say("|---|---:|---:|---:|---:|---:|")
    for k, r in (("off", off), ("on", on)):
        per = 1e6 * r["hook_s"] / r["events"] if k == "on" else 0.0
        say(f"| {k} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['events']:,} | "
            f"{r['hook_s']:.3f} | {per:.2f} |")  # fmt: skip
    say(f"\np99 on ÷ off: {on['p99_ms'] / off['p99_ms']:.3f}; p50 on ÷ off: "
        f"{on['p50_ms'] / off['p50_ms']:.3f}")  # fmt: skip
    say()

    say("## Publish with 500 symbols (200k events)")
    say()
    pub = run_job("publish", log_of(200_000, symbols=500))
    say("| symbols | publish ms | expectancy_v6.json KB | symbol_scores_v6.json KB |")
    say("|---:|---:|---:|---:|")
    d = pub["doc_bytes"]
    say(f"| {pub['symbols']} | {1e3 * pub['publish_s']:.1f} | "
        f"{d['expectancy_v6.json'] / 1e3:.0f} | "
        f"{d['symbol_scores_v6.json'] / 1e3:.0f} |")  # fmt: skip
    Path(a.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
