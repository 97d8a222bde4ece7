"""Streaming-core benchmark: accumulator update cost and decoder throughput.

    python -m benchmarks.bench_streaming [--repeat 5] [--out FILE]

Prints a table and writes it as Markdown with the command used. Every figure is the
median of ``--repeat`` runs, measured in the same process against a baseline in
the same run (a bare ``list.append`` for updates, the standard library's
``json.loads`` for decoding). Nothing here asserts anything about time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import msgspec

from execution.intel.events import make_decoder
from streaming.framing import split_lines
from streaming.keyed import KeyedMap
from streaming.stats import CompensatedSum, Drawdown, HitCounter, MeanVar
from streaming.windows import LastN, TimeWindow

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


def bench_updates(n: int, repeat: int) -> list[tuple[str, float]]:
    rng = random.Random(1)
    xs = [rng.gauss(0.1, 1.0) for _ in range(n)]
    wins = [x > 0 for x in xs]
    keys = [f"SYM{rng.randrange(20)}" for _ in range(n)]
    timed = [(float(i), x) for i, x in enumerate(xs)]

    def loop(make, data):
        def run():
            acc = make()
            up = acc.append if isinstance(acc, list) else acc.update
            for x in data:
                up(x)

        return run

    def keyed():
        k = KeyedMap(MeanVar)
        up = k.update
        for key, x in zip(keys, xs, strict=True):
            up(key, x)

    cases: list[tuple[str, Callable[[], None]]] = [
        ("baseline: list.append", loop(list, xs)),
        ("HitCounter", loop(HitCounter, wins)),
        ("CompensatedSum", loop(CompensatedSum, xs)),
        ("MeanVar (Welford)", loop(MeanVar, xs)),
        ("Drawdown", loop(Drawdown, xs)),
        ("LastN(50, MeanVar)", loop(lambda: LastN(50, MeanVar), xs)),
        ("TimeWindow(1000s, MeanVar)", loop(lambda: TimeWindow(1000.0, MeanVar), timed)),
        ("KeyedMap(MeanVar), 20 keys", keyed),
    ]
    return [(name, median_time(fn, repeat) / n * 1e9) for name, fn in cases]


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

    updates = bench_updates(args.events, args.repeat)
    lines = load_lines(args.events)
    decoders = bench_decoders(lines, args.repeat)
    avg_len = sum(map(len, lines)) / len(lines)

    base_ns = updates[0][1]
    out = [
        "# Streaming core benchmark",
        "",
        "Command: `python -m benchmarks.bench_streaming "
        f"--repeat {args.repeat} --events {args.events}`  ",
        f"Python {platform.python_version()} on {platform.machine()}, {args.events:,} events, "
        f"median of {args.repeat} runs.",
        "",
        "## Accumulator update cost",
        "",
        "| accumulator | ns / event | × baseline |",
        "|---|---:|---:|",
        *[f"| {n} | {ns:,.0f} | {ns / base_ns:.1f} |" for n, ns in updates],
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
