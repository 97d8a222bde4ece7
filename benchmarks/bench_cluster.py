"""Fund replay: one process against Dask ``LocalCluster``s of 1 and 2 worker
processes, the cost of a part, and the cost of a merge per group.

    python -m benchmarks.bench_cluster [--events 10000000] [--sources 4] [--files 3]
        [--runs one,local:1,local:2] [--part-mb 32] [--single] [--no-part-cost]
        [--no-merge] [--out /tmp/bench_cluster]

The log set: ``--sources`` executors, each ``--events / --sources`` events of the
generator (its own seed, its own id prefix, the same event-time span, so the
sources interleave), rotated into ``--files`` files — the older ones ``.gz``, the
live one plain — written file by file as the generator gives the lines (never the
whole set in memory), each file under a temporary name until it is complete, and
kept for the next run. Each run of ``--runs`` (``one``: this process; ``local:N``:
a fresh LocalCluster of N single-threaded worker processes) records the load
average before and after it, the CPU seconds of this process (the client, and with
a LocalCluster its scheduler) and of the workers (``resource.getrusage`` in each
worker), and whether its documents equal the first run's. Then: the cost of a part
(a 100,000-event log read as one part and as 64 KiB parts on local:2), the cost of
a merge per group, and (``--single``) one source through the fund path against
``replay --jobs 1`` and ``2``. Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from benchmarks.generate import events

LINES_PER_WRITE = 100_000


def _lines(k: int, n: int) -> Iterator[str]:
    """Executor ``k``'s ``n`` lines: its own seed and id prefix."""
    for x in events(n, seed=100 + k):
        yield x.replace('_id":"o-', f'_id":"e{k}o-').replace('_id":"t-', f'_id":"e{k}t-')


def _write(path: Path, lines: Iterator[str], n: int) -> None:
    """``n`` of ``lines`` into ``path`` (gzip when it ends in ``.gz``), in batches,
    under a temporary name renamed once complete."""
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as raw:
        out: Any = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
        if not path.name.endswith(".gz"):
            out = raw
        left = n
        while left > 0:
            batch = list(islice(lines, min(left, LINES_PER_WRITE)))
            if not batch:
                break
            out.write(("\n".join(batch) + "\n").encode())
            left -= len(batch)
        if out is not raw:
            out.close()
    tmp.replace(path)


def make_sources(out: Path, total: int, sources: int, files: int) -> list[str]:
    """The log set (kept): the live file of each source, written last."""
    paths = []
    per = total // sources
    size = -(-per // files)
    for k in range(sources):
        live = out / f"executor{k}" / "router_metrics.jsonl"
        paths.append(str(live))
        if live.exists():
            continue
        live.parent.mkdir(parents=True, exist_ok=True)
        lines = _lines(k, per)
        chunks = [min(size, per - i) for i in range(0, per, size)]
        for n, count in enumerate(chunks):
            age = len(chunks) - 1 - n
            _write(Path(f"{live}.{age}.gz") if age else live, lines, count)
    return paths


def doc(result: Any) -> str:
    return json.dumps({**result.expectancy, "generated_at": 0}, sort_keys=True)


def close(a: Any, b: Any, rel: float = 1e-9) -> bool:
    """Equal documents, floats within ``rel`` (a merge of folded states rounds
    differently from one fold, docs/numerics.md)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, rel) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= rel * max(1.0, abs(a), abs(b))
    return bool(a == b)


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _workers_cpu(client: Any) -> float:
    return float(sum(client.run(_cpu).values()))


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def _commit() -> str:
    run = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    )
    return run.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    from execution.config import load_config
    from execution.intel.cluster import replay_sources
    from execution.intel.cluster_connect import connect

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--sources", type=int, default=4)
    p.add_argument("--files", type=int, default=3)
    p.add_argument("--runs", default="one,local:1,local:2")
    p.add_argument("--part-mb", type=float, default=32.0)
    p.add_argument("--single", action="store_true", help="one source: fund path vs --jobs")
    p.add_argument("--no-part-cost", action="store_true")
    p.add_argument("--no-merge", action="store_true")
    p.add_argument("--out", default="/tmp/bench_cluster")
    a = p.parse_args(argv)
    runs = [r.strip() for r in a.runs.split(",") if r.strip()]
    for r in runs:
        if r != "one" and not (r.startswith("local:") and r[6:].isdigit()):
            p.error(f"bad run {r!r}: use one or local:N")
    cfg = load_config(Path("config")).intel
    out = Path(a.out)
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; commit {_commit()}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {sys.platform}")  # fmt: skip
    print(f"load average before the log set: {_load()}", flush=True)
    t = time.perf_counter()
    paths = make_sources(out / f"log_{a.events}_{a.sources}", a.events, a.sources, a.files)
    size = sum(f.stat().st_size for s in paths for f in Path(s).parent.glob("router_metrics*"))
    print(f"log set: {a.events:,} events, {a.sources} sources x {a.files} files "
          f"({size / 1e6:,.0f} MB on disk), ready in {time.perf_counter() - t:.1f}s",
          flush=True)  # fmt: skip
    state = out / "state"
    part_bytes = int(a.part_mb * (1 << 20))
    rows: list[tuple[str, Any, float, float, float, str]] = []
    for name in runs:
        before = _load()
        if name == "one":
            cpu = time.process_time()
            r = replay_sources(paths, cfg, state_dir=state, publish=False, part_bytes=part_bytes)
            rows.append((name, r, 0.0, time.process_time() - cpu, 0.0, f"{before} → {_load()}"))
        else:
            t = time.perf_counter()
            with connect(name) as client:
                start = time.perf_counter() - t
                client.run(lambda: __import__("execution.intel.sources"))  # warm the imports
                cpu, wcpu = time.process_time(), _workers_cpu(client)
                r = replay_sources(
                    paths, cfg, state_dir=state, publish=False, cluster=client,
                    part_bytes=part_bytes,
                )  # fmt: skip
                spent, wspent = time.process_time() - cpu, _workers_cpu(client) - wcpu
            rows.append((name, r, start, spent, wspent, f"{before} → {_load()}"))
        print(f"  {name}: {r.seconds:.1f} s", flush=True)
    first = doc(rows[0][1])
    print()
    print("| run | parts | all read s | fold s | after the last part s | total s | lines/s "
          "| client CPU s | workers CPU s | most events held | cluster start s "
          "| load 1 min before → after | same documents |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for name, r, start, spent, wspent, load in rows:
        print(f"| {name} | {r.parts} | {r.read_s:.2f} | {r.fold_s:.2f} | {r.tail_s:.2f} | "
              f"{r.seconds:.2f} | {r.lines / r.seconds:,.0f} | {spent:.2f} | {wspent:.2f} | "
              f"{r.held:,} | {start:.2f} | {load} | {doc(r) == first} |")  # fmt: skip
    print()
    for name, r, _, spent, wspent, _ in rows:
        print(f"{name}: client {spent / r.lines * 1e6:.2f} CPU-µs a line, workers "
              f"{wspent / r.lines * 1e6:.2f} CPU-µs a line ({r.lines:,} lines)")  # fmt: skip
    if a.single:
        _single(paths[:1], cfg, state)
    if not a.no_part_cost:
        _part_cost(out, cfg, state)
    if not a.no_merge:
        _merge_cost(out, cfg)
    print(f"load average at the end: {_load()}")
    return 0


def _single(paths: list[str], cfg: Any, state: Path) -> None:
    """One source: the fund path against the single-log replay (state merge of parts)."""
    from execution.intel.cluster import replay_sources
    from execution.intel.runner import replay

    print()
    print("one source (executor0, its rotated set):")
    cpu = time.process_time()
    single = replay_sources(paths, cfg, state_dir=state, publish=False)
    print(f"  fund path, one process: {single.seconds:.2f} s, "
          f"{time.process_time() - cpu:.2f} CPU-s ({single.lines:,} lines)")  # fmt: skip
    for jobs in (1, 2):
        cpu = time.process_time()
        r1 = replay(paths, cfg, state_dir=state, publish=False, jobs=jobs,
                    parallel_min_bytes=0)  # fmt: skip
        spent = time.process_time() - cpu
        same = close({**r1.expectancy, "generated_at": 0}, json.loads(doc(single)))
        print(f"  replay --jobs {jobs}: {r1.seconds:.2f} s, {spent:.2f} CPU-s of this process "
              f"({r1.parallel}); same documents (floats within 1e-9): {same}")  # fmt: skip


def _part_cost(out: Path, cfg: Any, state: Path) -> None:
    """The cost of a part: a 100,000-event plain log read as one part and as 64 KiB
    parts on a LocalCluster of 2 workers, the difference per extra part."""
    from execution.intel.cluster import replay_sources
    from execution.intel.cluster_connect import connect

    log = out / "part_cost" / "router_metrics.jsonl"
    if not log.exists():
        log.parent.mkdir(parents=True, exist_ok=True)
        _write(log, _lines(0, 100_000), 100_000)
    with connect("local:2") as client:
        client.run(lambda: __import__("execution.intel.sources"))
        one = replay_sources([str(log)], cfg, state_dir=state, publish=False, cluster=client,
                             part_bytes=1 << 30)  # fmt: skip
        tiny = replay_sources([str(log)], cfg, state_dir=state, publish=False, cluster=client,
                              part_bytes=64 << 10)  # fmt: skip
    per_part = (tiny.read_s - one.read_s) / max(tiny.parts - one.parts, 1)
    print()
    print(f"per-part overhead on local:2: {per_part * 1e3:.1f} ms ({tiny.parts} parts of "
          f"64 KiB: {tiny.read_s:.2f} s against {one.parts} part: {one.read_s:.2f} s, "
          f"{one.lines:,} lines, load {_load()})")  # fmt: skip


def _merge_cost(out: Path, cfg: Any) -> None:
    """The cost of a merge per group: two states over consecutive time spans."""
    from execution.intel.cluster import replay_sources
    from execution.intel.fund import merge_states

    print()
    for symbols in (200, 2000):
        root = out / f"merge_{symbols}"
        src = []
        for k in range(2):
            f = root / f"half{k}.jsonl"
            if not f.exists():
                f.parent.mkdir(parents=True, exist_ok=True)
                lines = [
                    json.dumps({
                        "event": "trade", "ts": 1e9 + k * 1e6 + i, "symbol": f"S{i % symbols}",
                        "strategy": f"st{i % 7}", "trade_id": f"{k}-{i}",
                        "pnl_usd": float(i % 13 - 6), "risk_usd": 10.0,
                    })
                    for i in range(symbols * 20)
                ]  # fmt: skip
                f.write_text("\n".join(lines) + "\n")
            src.append(str(f))
            replay_sources([str(f)], cfg, state_dir=root / f"state{k}", save_state=True)
        t = time.perf_counter()
        _, _, merged = merge_states(
            [root / "state0", root / "state1"], cfg, state_dir=root / "fund"
        )
        spent = time.perf_counter() - t
        groups = sum(len(n) for n in merged.engine.groups.names)
        together = replay_sources(src, cfg, state_dir=root / "both", publish=False)
        published = json.loads((root / "fund" / "expectancy_v6.json").read_text())
        same = close({**published, "generated_at": 0}, json.loads(doc(together)))
        print(f"merge of 2 states, {groups} groups (all groupings): {spent * 1e3:.0f} ms "
              f"(load, check, merge, publish, save), {spent / groups * 1e6:.0f} µs per group; "
              f"same documents as replaying both (floats within 1e-9): {same}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
