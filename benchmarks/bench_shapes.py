"""Shape matrix: cold replay of one log per (symbols, shape), the engine beside polars.

    python -m benchmarks.bench_shapes [--events 1000000] [--repeat 3]
        [--symbols 20,150,1000] [--shapes clean,bad,missing,pretty,spaced]
        [--work DIR] [--out benchmarks/RESULTS-shapes.md] [--profile]

Each cell is one log from :mod:`benchmarks.generate` (seeded, ``--events`` lines)
replayed whole-process and cold (fresh interpreter, empty state directory) by

* the engine: ``python -m execution.intel replay FILE --state-dir DIR`` (default
  jobs), as a user runs it;
* polars: :mod:`benchmarks.reference_polars` in its own process, the same config
  (``config/intel_v6.json``), writing both documents with the engine's writer. On a
  log without bad lines it reads the file with ``read_ndjson`` directly (its best
  case); on a log with bad lines it first keeps the lines ``orjson`` parses as
  objects of a known kind, as it must.

Shapes (``--shapes``):

* ``clean`` — every line good;
* ``bad`` — 2 % bad lines: torn, not JSON, wrong type, non-finite token, duplicate
  id, unknown event kind (about one sixth each);
* ``missing`` — trades carry ``r_multiple``; ``strategy``, ``policy``, ``regime``,
  ``risk_usd`` and ``r_multiple`` are each left out of 40 % of the events that
  could carry them (otherwise clean);
* ``pretty`` — ``json.dumps`` whitespace, a space after every ``:`` and ``,``;
* ``spaced`` — more whitespace still: padded braces and a space on both sides of
  every separator.

Before any timing, a ``--check-events`` version of every cell (default 50k lines)
is replayed by both and their documents compared (``expectancy_v6.json``'s windows
as in :mod:`benchmarks.bench_intel`, without the score's winsorised and weighted R
that the reference does not compute; floats within 1e-9; and the symbols scored); a
cell whose documents differ is timed all the same and marked.

Each run is timed from spawn to exit; peak RSS is sampled with psutil every 20 ms
over the process and its children (the engine's worker processes; forked pages
they share are counted in each), and the largest single process comes from the
kernel (``wait4``). Figures are medians of ``--repeat`` runs, the engine and polars
alternating. Generated logs are cached in ``--work`` under names made of their
parameters. Nothing here asserts anything about time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import generate

CONFIG = Path("config/intel_v6.json")
SHAPES: dict[str, tuple[str, dict[str, Any]]] = {
    "clean": ("clean", {"bad": 0}),
    "bad": ("2% bad lines and unknown events", {"bad": 0.02}),
    "missing": ("optional fields missing (40% each)", {"bad": 0, "missing": 0.4}),
    "pretty": ("pretty whitespace (json.dumps)", {"bad": 0, "pretty": 1}),
    "spaced": ('extra whitespace ({ "k" : v , ... })', {"bad": 0, "pretty": 2}),
}
# generate.events' defaults: a parameter at its default is left out of a log's name
DEFAULTS = {"symbols": 20, "bad": 0.001, "missing": 0.0, "pretty": 0}
SAMPLE_S = 0.02  # RSS sampling period
CHILDREN_EVERY = 5  # samples between listings of the process tree


# --- the polars job (runs in a child process) -------------------------------------------


def job_polars(path: str, state_dir: str, clean: bool) -> dict[str, Any]:
    from benchmarks import reference_polars
    from execution.config import load_intel_config
    from execution.state_publish import publish_intel

    doc, scores = reference_polars.run(path, load_intel_config(CONFIG), clean=clean)
    publish_intel(state_dir, doc, scores)
    return {"events": doc["inputs"]["events"]}


# --- measuring one process --------------------------------------------------------------


def measure(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` to its end: wall seconds, peak RSS of its process tree (sampled)
    and of its largest process (the kernel's), and its output."""
    import psutil

    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        stop = threading.Event()
        peak = [0]

        def sample() -> None:
            try:
                root = psutil.Process(proc.pid)
            except psutil.Error:
                return
            procs, k = [root], 0
            while not stop.is_set():
                if k % CHILDREN_EVERY == 0:  # listing children scans every process: ≈1 ms
                    with contextlib.suppress(psutil.Error):
                        procs = [root, *root.children(recursive=True)]
                k += 1
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                peak[0] = max(peak[0], total)
                stop.wait(SAMPLE_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        sampler.join()
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{text[-2000:]}")
    return {
        "seconds": seconds,
        "rss_mb": peak[0] / 2**20,
        "largest_mb": usage.ru_maxrss / 1024,
        "output": text,
    }


def engine_cmd(path: str, state_dir: str, jobs: int | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "execution.intel", "replay", path, "--state-dir", state_dir,
           "--no-history"]  # the fold alone: bench_history measures the history
    return cmd if jobs is None else [*cmd, "--jobs", str(jobs)]


def polars_cmd(path: str, state_dir: str, clean: bool) -> list[str]:
    mode = "clean" if clean else "filter"
    return [sys.executable, "-m", "benchmarks.bench_shapes", "--job", path, state_dir, mode]


def run_engine(path: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        return measure(engine_cmd(path, state))


def run_polars(path: str, clean: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        return measure(polars_cmd(path, state, clean))


# --- the documents agree ----------------------------------------------------------------


def _documents(state: str) -> tuple[dict[str, Any], dict[str, Any]]:
    d = Path(state)
    return (
        json.loads((d / "expectancy_v6.json").read_text()),
        json.loads((d / "symbol_scores_v6.json").read_text()),
    )


def check(path: str, clean: bool) -> tuple[str, bool]:
    """Replay ``path`` with both; ``("equal" or what differs, the polars mode used)``.
    When polars cannot read the log directly, the pre-filtered read is tried."""
    from benchmarks.bench_intel import common_windows
    from tests.intel.builders import assert_close

    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        measure(engine_cmd(path, a))
        ours, our_scores = _documents(a)
        note = ""
        try:
            measure(polars_cmd(path, b, clean))
        except RuntimeError as exc:
            if not clean:
                return f"POLARS FAILED: {str(exc).splitlines()[-1][:200]}", clean
            note = "read_ndjson fails on this log, pre-filtered read used; "
            clean = False
            measure(polars_cmd(path, b, clean))
        theirs, their_scores = _documents(b)
    try:
        # the figures the reference computes (not the score's winsorised and weighted
        # R, which the test oracle checks); so the scores, which read those, differ
        assert_close(common_windows(theirs["windows"]), common_windows(ours["windows"]),
                     "$.windows")  # fmt: skip
        named = [sorted(s["symbol"] for s in d["symbols"]) for d in (their_scores, our_scores)]
        assert named[0] == named[1], "$.symbols: the symbols scored"
        assert theirs["inputs"]["events"] == ours["inputs"]["events"], "inputs.events"
    except AssertionError as exc:
        return f"{note}DIFFER: {str(exc)[:200]}", clean
    return f"{note}equal", clean


# --- the report -------------------------------------------------------------------------


def log_name(n: int, symbols: int, shape: str) -> str:
    kw = {"symbols": symbols, **SHAPES[shape][1]}
    tag = "_".join(f"{k}{v}" for k, v in sorted(kw.items()) if DEFAULTS[k] != v)
    return f"rm_{n}{'_' + tag if tag else ''}.jsonl"


def make_log(work: str, n: int, symbols: int, shape: str) -> str:
    """The cached log of these parameters (written to a temporary name, then renamed,
    so an interrupted run leaves no partial log to reuse)."""
    path = Path(work) / log_name(n, symbols, shape)
    if not path.exists():
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        generate.write(tmp, n, symbols=symbols, **SHAPES[shape][1])
        tmp.rename(path)
    return str(path)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.platform()}; {cpu}; {os.cpu_count()} cores; "
            f"Python {platform.python_version()}")  # fmt: skip


def _source() -> str:
    """The commit the engine ran from, and whether its code had changes beyond it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "execution", "streaming"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    changed = len(dirty.splitlines())
    return f"{head}" + (f" with {changed} changed file(s) in the working tree" if changed else "")


def _median_run(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in ("seconds", "rss_mb", "largest_mb")}


def profile(path: str, top: int = 15) -> list[str]:
    """cProfile of the engine's CLI replay in one process, the ``top`` entries by
    cumulative time (below the interpreter's own ``-m`` frames), as table rows."""
    import pstats

    with tempfile.TemporaryDirectory() as state:
        out = Path(state) / "replay.prof"
        cmd = engine_cmd(path, state, jobs=1)
        measure([sys.executable, "-m", "cProfile", "-o", str(out), *cmd[1:]])
        stats = pstats.Stats(str(out))
    rows = sorted(
        ((key, v) for key, v in stats.stats.items()  # type: ignore[attr-defined]
         if key[0] not in ("<frozen runpy>", "<string>") and "builtins.exec" not in key[2]),
        key=lambda kv: -kv[1][3],
    )[:top]  # fmt: skip
    lines = []
    for (file, line, func), (_, calls, own, cum, _) in rows:
        where = f"{Path(file).parent.name}/{Path(file).name}:{line}" if line else "(built-in)"
        lines.append(f"| `{func}` {where} | {calls:,} | {own:.2f} | {cum:.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--job", nargs=3, metavar=("LOG", "STATE_DIR", "MODE"), help=argparse.SUPPRESS)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--check-events", type=int, default=50_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--symbols", default="20,150,1000")
    p.add_argument("--shapes", default=",".join(SHAPES), help=", ".join(SHAPES))
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "ei-bench"))
    p.add_argument("--out", default="benchmarks/RESULTS-shapes.md")
    p.add_argument("--profile", action="store_true",
                   help="cProfile the engine (--jobs 1) on its slowest cell")  # fmt: skip
    a = p.parse_args(argv)
    if a.job:
        log, state, mode = a.job
        out = job_polars(log, state, clean=mode == "clean")
        print(json.dumps(out))
        return 0
    symbols = [int(s) for s in a.symbols.split(",") if s]
    shapes = [s for s in a.shapes.split(",") if s]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        p.error(f"unknown shape(s) {', '.join(unknown)} (known: {', '.join(SHAPES)})")
    cells = [(k, s) for k in symbols for s in shapes]
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def say(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    t_gen = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        logs = {(n, k, s): pool.submit(make_log, str(work), n, k, s)
                for n in (a.check_events, a.events) for k, s in cells}  # fmt: skip
        paths = {key: f.result() for key, f in logs.items()}
    print(f"logs ready in {work} ({time.perf_counter() - t_gen:.0f} s)", file=sys.stderr)

    checks: dict[tuple[int, str], tuple[str, bool]] = {}
    for k, s in cells:
        checks[(k, s)] = check(paths[(a.check_events, k, s)], clean=SHAPES[s][1]["bad"] == 0)
        print(f"check {k} symbols, {s}: {checks[(k, s)][0]}", file=sys.stderr, flush=True)

    args = argv if argv is not None else sys.argv[1:]
    cmd = "python -m benchmarks.bench_shapes " + " ".join(args)
    n = a.events
    say("# Shape matrix: cold replay, engine beside polars")
    say()
    say(f"Command: `{cmd.strip()}`  ")
    say(f"Machine: {_machine()}  ")
    say(f"Engine: commit {_source()}  ")
    say(f"Date: {datetime.datetime.now().astimezone().isoformat(timespec='minutes')}")
    say()
    say(f"Each cell: one {n:,}-line log, replayed cold and whole-process (interpreter, "
        "imports, read, decode, fold, both documents written) by the engine "
        "(`python -m execution.intel replay FILE --state-dir DIR`, default jobs) and by "
        "the polars implementation of the same surfaces (`benchmarks/reference_polars.py`, "
        "`read_ndjson` directly on logs without bad lines, after a per-line `orjson` "
        f"filter on logs with them); medians of {a.repeat} runs, the two alternating. "
        "events/s counts every line of the log. Peak RSS: all processes of the run "
        "(sampled every 20 ms, forked pages counted in each process), and in "
        "parentheses its largest process (kernel figure).")  # fmt: skip
    say()
    say("Shapes (`benchmarks/generate.py`, seed 1): *clean* every line good; *2% bad "
        "lines* torn, not JSON, wrong type, non-finite token, duplicate id and unknown "
        "event kind, about one sixth each; *optional fields missing* trades carry "
        "`r_multiple`, and `strategy`, `policy`, `regime`, `risk_usd`, `r_multiple` are "
        "each left out of 40% of the events that could carry them; *pretty whitespace* "
        "a space after every `:` and `,`; *extra whitespace* padded braces and a space "
        "on both sides of every separator. Only the bad-lines shape has bad lines.")  # fmt: skip
    say()
    say("| symbols | shape | engine s | engine events/s | polars s | polars events/s | "
        "polars ÷ engine (time) | engine peak RSS MB | polars peak RSS MB | documents "
        f"({a.check_events // 1000}k check) |")  # fmt: skip
    say("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    results: dict[tuple[int, str], dict[str, Any]] = {}
    for k, s in cells:
        path = paths[(n, k, s)]
        clean = checks[(k, s)][1]
        eng_runs, pol_runs = [], []
        for _ in range(a.repeat):
            eng_runs.append(run_engine(path))
            pol_runs.append(run_polars(path, clean))
        eng, pol = _median_run(eng_runs), _median_run(pol_runs)
        ratio = pol["seconds"] / eng["seconds"]
        results[(k, s)] = {"engine": eng, "polars": pol, "ratio": ratio}
        say(f"| {k:,} | {SHAPES[s][0]} | {eng['seconds']:.2f} | {n / eng['seconds']:,.0f} | "
            f"{pol['seconds']:.2f} | {n / pol['seconds']:,.0f} | {ratio:.2f}× | "
            f"{eng['rss_mb']:.0f} ({eng['largest_mb']:.0f}) | "
            f"{pol['rss_mb']:.0f} ({pol['largest_mb']:.0f}) | {checks[(k, s)][0]} |")  # fmt: skip
    say()
    worst = min(results, key=lambda c: results[c]["ratio"])
    slowest = max(results, key=lambda c: results[c]["engine"]["seconds"])
    say(f"Lowest ratio: {worst[0]:,} symbols, {SHAPES[worst[1]][0]} "
        f"({results[worst]['ratio']:.2f}×); slowest engine cell: {slowest[0]:,} symbols, "
        f"{SHAPES[slowest[1]][0]} ({n / results[slowest]['engine']['seconds']:,.0f} "
        "events/s).")  # fmt: skip
    differ = [c for c in cells if not checks[c][0].endswith("equal")]
    if differ:
        say()
        say("Documents differ (or polars failed) on: "
            + "; ".join(f"{k:,} symbols, {s}: {checks[(k, s)][0]}" for k, s in differ))  # fmt: skip
    if a.profile:
        say()
        say(f"## Profile: engine, one process (`--jobs 1`), {slowest[0]:,} symbols, "
            f"{SHAPES[slowest[1]][0]}")  # fmt: skip
        say()
        say("cProfile of the whole CLI replay, top 15 by cumulative time (profiling slows "
            "Python-level code more than C and numpy, so shares are indicative).")  # fmt: skip
        say()
        say("| function | calls | own s | cumulative s |")
        say("|---|---:|---:|---:|")
        for row in profile(paths[(n, *slowest)]):
            say(row)
    Path(a.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
