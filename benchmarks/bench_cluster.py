"""Fund replay: one process against Dask ``LocalCluster``s of 1 and 2 worker
processes, the cost of a part, and the cost of a merge per group.

    python -m benchmarks.bench_cluster [--events 2000000] [--sources 4] [--files 3]
                                       [--out /tmp/bench_cluster]

The log set: ``--sources`` executors, each ``--events / --sources`` events of the
generator (its own seed, its own id prefix, the same event-time span, so the
sources interleave), rotated into ``--files`` files — the older ones ``.gz``, the
live one plain. Every run's documents are compared with the one-process run's.
Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.generate import events


def make_sources(out: Path, total: int, sources: int, files: int) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    per = total // sources
    for k in range(sources):
        live = out / f"executor{k}" / "router_metrics.jsonl"
        paths.append(str(live))
        if live.exists():
            continue
        live.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            x.replace('_id":"o-', f'_id":"e{k}o-').replace('_id":"t-', f'_id":"e{k}t-')
            for x in events(per, seed=100 + k)
        ]
        size = -(-len(lines) // files)
        chunks = [lines[i : i + size] for i in range(0, len(lines), size)]
        for n, chunk in enumerate(chunks):
            data = ("\n".join(chunk) + "\n").encode()
            age = len(chunks) - 1 - n
            if age:
                Path(f"{live}.{age}.gz").write_bytes(gzip.compress(data, 6, mtime=0))
            else:
                live.write_bytes(data)
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


def main(argv: list[str] | None = None) -> int:
    from execution.config import load_config
    from execution.intel.cluster import connect, replay_sources
    from execution.intel.fund import merge_states

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=2_000_000)
    p.add_argument("--sources", type=int, default=4)
    p.add_argument("--files", type=int, default=3)
    p.add_argument("--part-mb", type=float, default=32.0)
    p.add_argument("--out", default="/tmp/bench_cluster")
    a = p.parse_args(argv)
    cfg = load_config(Path("config")).intel
    out = Path(a.out)
    t = time.perf_counter()
    paths = make_sources(out / f"log_{a.events}_{a.sources}", a.events, a.sources, a.files)
    size = sum(f.stat().st_size for s in paths for f in Path(s).parent.iterdir())
    print(f"machine: {platform.machine()}, {platform.python_version()}, {sys.platform}")
    print(f"log set: {a.events:,} events, {a.sources} sources x {a.files} files "
          f"({size / 1e6:,.0f} MB on disk), made in {time.perf_counter() - t:.1f}s")  # fmt: skip
    state = out / "state"
    part_bytes = int(a.part_mb * (1 << 20))
    rows = []
    print(f"load average before: {os.getloadavg()[0]:.2f} (other work on the machine)")
    cpu = time.process_time()
    one = replay_sources(paths, cfg, state_dir=state, publish=False, part_bytes=part_bytes)
    rows.append(("one process", one, 0.0, time.process_time() - cpu))
    for n in (1, 2):
        t = time.perf_counter()
        with connect(f"local:{n}") as client:
            start = time.perf_counter() - t
            client.run(lambda: __import__("execution.intel.sources"))  # warm the imports
            cpu = time.process_time()
            r = replay_sources(
                paths, cfg, state_dir=state, publish=False, cluster=client, part_bytes=part_bytes
            )
            rows.append((f"local:{n}", r, start, time.process_time() - cpu))
            if n == 2:
                # the cost of a part: many tiny parts of a small log
                small = replay_sources(paths[:1], cfg, state_dir=state, publish=False,
                                       cluster=client, part_bytes=1 << 30)  # fmt: skip
                tiny = replay_sources(paths[:1], cfg, state_dir=state, publish=False,
                                      cluster=client, part_bytes=64 << 10)  # fmt: skip
                per_part = (tiny.read_s - small.read_s) / max(tiny.parts - small.parts, 1)
    print()
    print("| run | parts | all read s | fold s | after the last part s | total s | lines/s "
          "| client CPU s | most events held | cluster start s | same documents |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, r, start, spent in rows:
        print(f"| {name} | {r.parts} | {r.read_s:.2f} | {r.fold_s:.2f} | {r.tail_s:.2f} | "
              f"{r.seconds:.2f} | {r.lines / r.seconds:,.0f} | {spent:.2f} | {r.held:,} | "
              f"{start:.2f} | {doc(r) == doc(one)} |")  # fmt: skip
    # one source: the fund path against the single-log replay (state merge of parts)
    from execution.intel.runner import replay

    print()
    print("one source (executor0, its rotated set):")
    cpu = time.process_time()
    single = replay_sources(paths[:1], cfg, state_dir=state, publish=False)
    print(f"  fund path, one process: {single.seconds:.2f} s, "
          f"{time.process_time() - cpu:.2f} CPU-s ({single.lines:,} lines)")  # fmt: skip
    for jobs in (1, 2):
        cpu = time.process_time()
        r1 = replay(paths[:1], cfg, state_dir=state, publish=False, jobs=jobs,
                    parallel_min_bytes=0)  # fmt: skip
        spent = time.process_time() - cpu
        same = close({**r1.expectancy, "generated_at": 0}, json.loads(doc(single)))
        print(f"  replay --jobs {jobs}: {r1.seconds:.2f} s, {spent:.2f} CPU-s of this process "
              f"({r1.parallel}); same documents (floats within 1e-9): {same}")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print()
    print(f"per-part overhead on local:2: {per_part * 1e3:.1f} ms "
          f"({tiny.parts} parts of 64 KiB vs {small.parts}, one source)")  # fmt: skip
    # merge cost per group: two states over consecutive time spans, many symbols
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
                ]
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
        same = close(
            {**published, "generated_at": 0}, json.loads(doc(together))
        )
        print(f"merge of 2 states, {groups} groups (all groupings): {spent * 1e3:.0f} ms "
              f"(load, check, merge, publish, save), {spent / groups * 1e6:.0f} µs per group; "
              f"same documents as replaying both (floats within 1e-9): {same}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
