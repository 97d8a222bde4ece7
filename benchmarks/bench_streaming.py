"""Streaming-core benchmark: grouped fold cost against the number of groups, and
decoder throughput.

    python -m benchmarks.bench_streaming [--repeat 5] [--out FILE]

Prints a table and writes it as Markdown with the command used. Every figure is the
median of ``--repeat`` runs, measured in the same process against a baseline in
the same run (the same fold called group by group, the standard library's
``json.loads`` for decoding). Nothing here asserts anything about time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import msgspec
import numpy as np

from execution.intel.events import make_decoder
from execution.intel.folds import trade_fold
from streaming.fold import Segments, grow
from streaming.framing import split_lines

orjson: ModuleType | None
try:
    import orjson
except ImportError:  # optional: `pip install -e .[bench]`
    orjson = None

SAMPLE = Path("logs/samples/router_metrics.jsonl.gz")


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _trade_block(n: int, groups: int, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    pnl = rng.normal(0.1, 1.0, n) * 100.0
    risk = np.full(n, 100.0)
    return {"pnl": pnl, "r": pnl / risk, "risk": risk}, rng.integers(0, groups, n)


def bench_folds(n: int, repeat: int) -> list[tuple[str, int, float, float]]:
    """The trade fold of one block of ``n`` events over 1 … 20,000 groups: the grouped
    fold (``fold_block``), one table merge per block and, as the baseline in the same
    run, the same fold called group by group (what a per-group design pays)."""
    rng = np.random.default_rng(1)
    fold = trade_fold(0.05)
    out = []
    for groups in (1, 20, 1_000, 20_000):
        columns, codes = _trade_block(n, groups, rng)
        seg = Segments(codes)
        grouped = median_time(lambda: fold.fold_block(columns, Segments(codes)), repeat)
        table = grow(fold, fold.fold_block(columns, seg), groups)
        merge = median_time(lambda: fold.merge(table, table), repeat)
        if groups <= 1_000:
            parts = [np.flatnonzero(codes == g) for g in range(groups)]

            def per_group() -> None:
                for rows in parts:
                    fold.fold_block({k: v[rows] for k, v in columns.items()},
                                    Segments(np.zeros(len(rows), dtype=np.int64)))  # fmt: skip

            baseline = median_time(per_group, max(1, repeat // 2))
        else:
            baseline = math.nan
        out.append(("trade fold", groups, grouped / n * 1e9, baseline / n * 1e9))
        out.append(("table merge (per group)", groups, merge / groups * 1e9, math.nan))
    return out


def bench_decoders(lines: list[bytes], repeat: int) -> list[tuple[str, float]]:
    blob = b"\n".join(lines) + b"\n"

    def std():
        for line in lines:
            json.loads(line)

    def untyped():
        dec = msgspec.json.Decoder()
        for line in lines:
            dec.decode(line)

    def typed():
        dec = make_decoder(dedup_horizon=len(lines) + 1)
        for line in lines:
            dec.decode(line)

    def framed_typed():
        frames, _, _ = split_lines(blob, skipping=False, max_line_bytes=1 << 20)
        dec = make_decoder(dedup_horizon=len(lines) + 1)
        for fr in frames:
            dec.decode(fr)  # type: ignore[arg-type]

    def batch_typed():
        frames, _, _ = split_lines(blob, skipping=False, max_line_bytes=1 << 20)
        make_decoder(dedup_horizon=len(lines) + 1).decode_many(frames)  # type: ignore[arg-type]

    cases = [("baseline: json.loads", std)]
    if orjson is not None:
        cases.append(("orjson.loads", lambda: [orjson.loads(x) for x in lines]))
    cases += [
        ("msgspec untyped", untyped),
        ("msgspec typed + validated + dedup (per-event path)", typed),
        ("framing + typed decode", framed_typed),
        ("framing + batch decode, set-based dedup (replay path)", batch_typed),
    ]
    return [(name, len(lines) / median_time(fn, repeat)) for name, fn in cases]


def load_lines(target: int) -> list[bytes]:
    base = gzip.decompress(SAMPLE.read_bytes()).splitlines()
    out: list[bytes] = []
    i = 0
    while len(out) < target:
        for line in base:  # unique ids per copy, so de-duplication does not reject them
            out.append(line.replace(b'_id":"', b'_id":"%d-' % i, 1))
        i += 1
    return out[:target]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--out", default="benchmarks/RESULTS-streaming.md")
    args = ap.parse_args(argv)

    folds = bench_folds(1 << 16, args.repeat)
    lines = load_lines(args.events)
    decoders = bench_decoders(lines, args.repeat)
    avg_len = sum(map(len, lines)) / len(lines)

    out = [
        "# Streaming core benchmark",
        "",
        "Command: `python -m benchmarks.bench_streaming "
        f"--repeat {args.repeat} --events {args.events}`  ",
        f"Python {platform.python_version()} on {platform.machine()}, {args.events:,} events, "
        f"median of {args.repeat} runs.",
        "",
        "## Grouped fold cost (one block of 65,536 trades)",
        "",
        "The trade fold (16 kernels) over the block, against the same fold called group "
        "by group (the baseline; not run beyond 1,000 groups), and the merge of two "
        "tables of that many groups (ns per group).",
        "",
        "| what | groups | ns / event (or per group) | baseline: per group ns / event | "
        "baseline ÷ grouped |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {what} | {g:,} | {ns:,.0f} | "
            + ("—" if math.isnan(base) else f"{base:,.0f}")
            + " | "
            + ("—" if math.isnan(base) else f"{base / ns:.1f}×")
            + " |"
            for what, g, ns, base in folds
        ],
        "",
        f"## Decoder throughput (sample-log lines, {avg_len:.0f} bytes on average)",
        "",
        "| decoder | lines / s | × json |",
        "|---|---:|---:|",
        *[f"| {n} | {r:,.0f} | {r / decoders[0][1]:.2f} |" for n, r in decoders],
        "",
    ]
    text = "\n".join(out)
    print(text)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
