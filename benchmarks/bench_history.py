"""The history store: SQLite in WAL mode (the store chosen) against JSONL segments
(one file per day), on one year hourly × 500 symbols (benchmarks/RESULTS-history.md).

    .venv/bin/python -m benchmarks.bench_history [--symbols 500] [--days 365]

Figures only; nothing is asserted. What the Intelligence page loads: one symbol's
history (every window) and the fund's; what a snapshot costs to append.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from execution.intel.history import FUND_FIELDS, SYMBOL_FIELDS, Snapshot
from execution.intel.history_store import (
    FUND_KEY,
    SYMBOL_KEY,
    HistoryStore,
    _insert,
    read_fund,
    read_symbol,
)

HOUR = 3600


def snap(b: int, symbols: int, rng: random.Random) -> Snapshot:
    recs = [
        {
            "bucket": b,
            "window": "all",
            "symbol": f"S{i:04d}USDT",
            **{k: round(rng.gauss(0, 1), 9) for k in SYMBOL_FIELDS},
        }
        for i in range(symbols)
    ]
    fund = [{"bucket": b, "window": "all", **{k: rng.random() for k in FUND_FIELDS}}]
    return Snapshot(b, float(b), recs, fund)


def timed(f, repeat: int = 3):  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--jsonl-days", type=int, default=30, help="days written as JSONL")
    args = ap.parse_args()
    rng = random.Random(1)
    tmp = Path(tempfile.mkdtemp(prefix="bench_history_"))
    buckets = args.days * 24
    try:
        db_path = tmp / "history_v6.sqlite"
        store = HistoryStore(db_path, cadence_s=HOUR, max_buckets=buckets + 1)
        # appends as follow and replay make them: one transaction (and fsync) a bucket
        n_append = 48
        t = time.perf_counter()
        store.append(snap(b * HOUR, args.symbols, rng) for b in range(n_append))
        per_append = (time.perf_counter() - t) / n_append
        # the rest of the year in bulk (same rows, one transaction per day)
        t = time.perf_counter()
        db = store.db
        sym_sql = _insert("symbols", [*SYMBOL_KEY, *SYMBOL_FIELDS])
        fund_sql = _insert("fund", [*FUND_KEY, *FUND_FIELDS])
        for day in range(n_append // 24, args.days):
            db.execute("BEGIN")
            for h in range(24):
                s = snap((day * 24 + h) * HOUR, args.symbols, rng)
                db.execute("INSERT INTO buckets VALUES (?, ?, ?)", (s.bucket, s.as_of, 1))
                names = [*SYMBOL_KEY, *SYMBOL_FIELDS]
                db.executemany(sym_sql, [[r[n] for n in names] for r in s.symbols])
                fnames = [*FUND_KEY, *FUND_FIELDS]
                db.executemany(fund_sql, [[r[n] for n in fnames] for r in s.fund])
            db.execute("COMMIT")
        store.compact()
        build = time.perf_counter() - t
        store.close()
        size = db_path.stat().st_size
        sym = f"S{args.symbols // 2:04d}USDT"
        t_sym, rows = timed(lambda: read_symbol(db_path, sym))
        t_fund, frows = timed(lambda: read_fund(db_path))
        print(f"SQLite WAL: {buckets} buckets x {args.symbols} symbols x 1 window")
        print(f"  file {size / 1e6:,.0f} MB; bulk build {build:.1f} s")
        print(f"  append one snapshot ({args.symbols} records, synchronous=FULL): "
              f"{per_append * 1e3:.1f} ms")  # fmt: skip
        print(f"  load one symbol's year ({len(rows)} records): {t_sym * 1e3:.1f} ms")
        print(f"  load the fund's year ({len(frows)} records): {t_fund * 1e3:.1f} ms")
        print(f"  page load (symbol + fund): {(t_sym + t_fund) * 1e3:.1f} ms")

        # JSONL segments: one file per day, every record a line; a symbol's history
        # is a scan of every segment
        seg_dir = tmp / "segments"
        seg_dir.mkdir()
        t = time.perf_counter()
        for day in range(args.jsonl_days):
            with open(seg_dir / f"{day:04d}.jsonl", "w") as fh:
                for h in range(24):
                    s = snap((day * 24 + h) * HOUR, args.symbols, rng)
                    fh.writelines(json.dumps(r, separators=(",", ":")) + "\n" for r in s.symbols)
        write = time.perf_counter() - t
        seg_size = sum(p.stat().st_size for p in seg_dir.iterdir())

        def scan() -> list[dict[str, object]]:
            out = []
            needle = f'"symbol":"{sym}"'
            for p in sorted(seg_dir.iterdir()):
                with open(p) as fh:
                    out += [json.loads(line) for line in fh if needle in line]
            return out

        t_scan, got = timed(scan, 1)
        scale = args.days / args.jsonl_days
        print(f"JSONL segments (one per day), {args.jsonl_days} days written:")
        year_mb = seg_size * scale / 1e6
        print(f"  {seg_size / 1e6:,.0f} MB ({year_mb:,.0f} MB for {args.days} days); "
              f"write {write:.1f} s")  # fmt: skip
        print(f"  load one symbol ({len(got)} records): {t_scan * 1e3:.0f} ms for "
              f"{args.jsonl_days} days, about {t_scan * scale:.1f} s "
              f"for {args.days} days")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
