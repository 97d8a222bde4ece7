"""The tail-follower's hot loop, side by side with baselines in the same run.

Figures (medians of ``--repeat`` runs):

* **catch-up**: a backlog of ``--mb`` MB of canonical event lines in the live file,
  polled until drained: MB/s and lines/s;
* **idle poll**: ``poll()`` of a rotated set of four files where nothing changed:
  µs per poll (the cost paid every ``poll_interval`` while the log is quiet);
* **small appends**: 100 lines appended, then one ``poll()``: µs per poll.

Baselines: the floor (``os.pread`` + :func:`streaming.framing.split_lines` over the
same bytes, no identity work) and, with ``--against REV`` (default: the commit
before the follower's identity rework), the follower of that revision, loaded from
git. Prints a table and writes it to ``benchmarks/RESULTS-follow.md``; asserts
nothing about time.

    python -m benchmarks.bench_follow [--mb 200] [--repeat 5] [--against REV]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from streaming.framing import split_lines

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AGAINST = "3c94cde"
LINE = (
    b'{"ts":%d.5,"event":"trade","symbol":"SYM%03d","strategy":"trend_follow",'
    b'"policy":"maker_first","regime":"maker_first","trade_id":"t%09d","pnl_usd":12.5,'
    b'"risk_usd":50.0,"notional_usd":2500.0,"entry_ts":1700000000.0,"exit_ts":1700000300.0}\n'
)


def lines(start: int, n: int) -> bytes:
    return b"".join(LINE % (1_700_000_000 + i, i % 150, i) for i in range(start, start + n))


def load_revision(rev: str) -> ModuleType | None:
    try:
        src = subprocess.run(
            ["git", "show", f"{rev}:streaming/follow.py"],
            cwd=ROOT, check=True, capture_output=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp(prefix="follow-rev-")) / "follow_rev.py"
    path.write_bytes(src)
    spec = importlib.util.spec_from_file_location("follow_rev", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["follow_rev"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def drain(follower: Any) -> int:
    n = 0
    while True:
        batch = follower.poll()
        n += len(batch.frames)
        if not batch.more:
            return n


def floor_drain(path: Path) -> int:
    """Read and frame the file through one descriptor, nothing else."""
    n, offset, pending, skipping = 0, 0, b"", False
    fd = os.open(path, os.O_RDONLY)
    try:
        while chunk := os.pread(fd, 1 << 20, offset + len(pending)):
            buf = pending + chunk if pending else chunk
            got, used, skipping = split_lines(buf, skipping=skipping, max_line_bytes=1 << 20)
            n += len(got)
            offset += used
            pending = buf[used:]
    finally:
        os.close(fd)
    return n


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench(impls: dict[str, Callable[..., Any] | None], mb: int, repeat: int) -> list[list[str]]:
    work = Path(tempfile.mkdtemp(prefix="bench-follow-"))
    rows: list[list[str]] = []
    try:
        log = work / "router_metrics.jsonl"
        per_line = len(LINE % (1_700_000_000, 0, 0))
        total = mb * (1 << 20) // per_line
        with log.open("wb") as fh:
            for start in range(0, total, 100_000):
                fh.write(lines(start, min(100_000, total - start)))
        size = log.stat().st_size
        sec, n = timed(lambda: floor_drain(log), repeat)
        rows.append(["floor (pread + split_lines)", f"{size / sec / 1e6:,.0f}", f"{n / sec:,.0f}",
                     "—", "—"])  # fmt: skip
        for name, make in impls.items():
            if make is None:
                rows.append([name, "n/a", "n/a", "n/a", "n/a"])
                continue
            sec, n = timed(lambda make=make: drain(make(log)), repeat)
            assert n == total, (name, n, total)
            # idle poll over a rotated set of four files
            rot = work / f"idle-{len(rows)}"
            rot.mkdir()
            live = rot / "m.jsonl"
            for k in (3, 2, 1):
                (rot / f"m.jsonl.{k}").write_bytes(lines(k * 1000, 1000))
            live.write_bytes(lines(0, 1000))
            f = make(live)
            drain(f)
            idle = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                for _ in range(1000):
                    f.poll()
                idle.append((time.perf_counter() - t0) / 1000)
            small = []
            for r in range(repeat):
                cost = 0.0
                for j in range(200):
                    with live.open("ab") as fh:
                        fh.write(lines(10_000 + (r * 200 + j) * 100, 100))
                    t0 = time.perf_counter()
                    f.poll()
                    cost += time.perf_counter() - t0
                small.append(cost / 200)
            f.close()
            rows.append([name, f"{size / sec / 1e6:,.0f}", f"{n / sec:,.0f}",
                         f"{statistics.median(idle) * 1e6:,.1f}",
                         f"{statistics.median(small) * 1e6:,.1f}"])  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--against", default=DEFAULT_AGAINST, help="git revision to compare with")
    args = ap.parse_args(argv)
    from streaming.follow import Follower

    old = load_revision(args.against)
    impls: dict[str, Callable[..., Any] | None] = {
        "follower (this tree)": Follower,
        f"follower ({args.against})": old.Follower if old is not None else None,
    }
    rows = bench(impls, args.mb, args.repeat)
    head = ["implementation", "catch-up MB/s", "catch-up lines/s", "idle poll µs",
            "poll after 100 lines µs"]  # fmt: skip
    table = "\n".join("| " + " | ".join(r) + " |" for r in [head, ["---"] * len(head), *rows])
    cmd = f"python -m benchmarks.bench_follow --mb {args.mb} --repeat {args.repeat}"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    text = (
        f"# Follower benchmark\n\n`{cmd}` on {machine}, {time.strftime('%Y-%m-%d')}; "
        f"medians of {args.repeat} runs, {args.mb} MB backlog of {len(LINE % (0, 0, 0))}-byte "
        "lines.\n\n" + table + "\n\nThe machine's speed drifts between runs (the same "
        "follower's figures vary by up to 40 % across runs here), so compare the rows of "
        "one run, not figures of different runs.\n"
    )
    print(text)
    (ROOT / "benchmarks" / "RESULTS-follow.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
