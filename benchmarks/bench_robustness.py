"""Robustness figures: hostile cardinality and hostile lines, whole processes.

* **200k distinct symbols**, one trade each: ``replay`` with the default config
  (``max_groups`` 20,000): seconds, peak RSS of the replay process, rejects and the
  document's warning, document sizes. Beside it the same log with ``max_groups``
  raised past the symbol count, to show what the bound saves.
* **Hostile lines**: ``tests/faults/fuzz.py`` (``replay``, ``follow`` and both pages on
  a log of 30 % good events and 70 % lines built to break things): lines, seconds,
  every line accounted for, 0 tracebacks.

Prints the figures and writes ``benchmarks/RESULTS-robustness.md``; asserts nothing
about time.

    python -m benchmarks.bench_robustness [--symbols 200000] [--fuzz-lines 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.faults.fuzz import fuzz

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def replay_rss(log: Path, state: Path, config: Path | None) -> tuple[float, float, str]:
    """Seconds and peak RSS (MB) of one replay process, with its stderr."""
    cmd = [sys.executable, "-m", "execution.intel", "replay", str(log), "--state-dir",
           str(state), "--top", "1", "--jobs", "1", "--no-history"]  # fmt: skip
    if config is not None:
        cmd += ["--config", str(config)]
    # a fresh interpreter per measurement, so RUSAGE_CHILDREN holds this one only
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        f"r = subprocess.run({cmd!r}, capture_output=True, text=True); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
        " r.returncode); sys.stderr.write(r.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=ENV, capture_output=True,
                         text=True, check=True)  # fmt: skip
    sec, kb, code = out.stdout.split()
    assert code == "0", out.stderr
    return float(sec), int(kb) / 1024, out.stderr


def cardinality(symbols: int, work: Path) -> list[str]:
    base = json.loads((ROOT / "config" / "intel_v6.json").read_text())
    unbounded = work / "unbounded.json"
    unbounded.write_text(json.dumps({**base, "max_groups": symbols * 2}))
    rows = []
    cases = [
        ("symbols", "default max_groups (20,000)", None),
        ("all four", "default max_groups (20,000)", None),
        ("symbols", f"max_groups {symbols * 2:,}", unbounded),
    ]
    for distinct, name, config in cases:
        log = work / f"{distinct.replace(' ', '_')}{symbols}.jsonl"
        if not log.exists():
            with log.open("w") as fh:
                for i in range(symbols):
                    event = {"ts": 1_700_000_000 + i, "event": "trade", "symbol": f"S{i:07d}",
                             "trade_id": f"t{i}", "pnl_usd": 1.0, "risk_usd": 2.0}  # fmt: skip
                    if distinct == "all four":
                        event |= {"strategy": f"st{i}", "policy": f"p{i}", "regime": f"r{i}"}
                    fh.write(json.dumps(event) + "\n")
        state = work / f"state-{len(rows)}"
        sec, mb, _ = replay_rss(log, state, config)
        doc = json.loads((state / "expectancy_v6.json").read_text())
        size = sum((state / f).stat().st_size for f in ("expectancy_v6.json",
                                                          "symbol_scores_v6.json"))  # fmt: skip
        rejects = doc["inputs"]["reject_reasons"].get("too_many_groups", 0)
        warn = "yes" if doc.get("warnings") else "no"
        rows.append(f"| {distinct} | {name} | {symbols:,} | {sec:.1f} | {mb:,.0f} | {rejects:,} | "
                    f"{warn} | {size / 1e6:,.1f} |")  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--symbols", type=int, default=200_000)
    ap.add_argument("--fuzz-lines", type=int, default=100_000)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-robust-") as tmp:
        work = Path(tmp)
        card = cardinality(args.symbols, work)
        began = time.perf_counter()
        (work / "fuzz").mkdir()
        inputs = fuzz(args.fuzz_lines, 1, work / "fuzz")
        fuzz_s = time.perf_counter() - began
    cmd = (f"python -m benchmarks.bench_robustness --symbols {args.symbols} "
           f"--fuzz-lines {args.fuzz_lines}")  # fmt: skip
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    accounted = inputs["events"] + inputs["rejected"] + inputs.get("skipped", 0)
    text = "\n".join([
        "# Robustness benchmarks", "",
        f"Command: `{cmd}`  ", f"Machine: {machine}, {time.strftime('%Y-%m-%d')}.", "",
        "## Hostile cardinality: one trade per distinct group, `replay --jobs 1`", "",
        "`distinct`: which groupings get a new value on every line (symbol only, or symbol,",
        "strategy, policy and regime at once: 4 × 20,000 groups kept, each in 3 windows).", "",
        "| distinct | config | lines | seconds | peak RSS MB | too_many_groups | warning |"
        " documents MB |",
        "|---|---|---:|---:|---:|---:|---|---:|", *card, "",
        "## Hostile lines through replay, follow and both pages (`tests/faults/fuzz.py`)", "",
        "| lines | seconds | applied | rejected | skipped | accounted | tracebacks |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {args.fuzz_lines:,} | {fuzz_s:.1f} | {inputs['events']:,} | {inputs['rejected']:,} | "
        f"{inputs.get('skipped', 0):,} | {accounted:,} | 0 |", "",
        "Reject reasons: " + ", ".join(f"{k} {v:,}" for k, v in
                                       sorted(inputs["reject_reasons"].items())), "",
    ])  # fmt: skip
    print(text)
    (ROOT / "benchmarks" / "RESULTS-robustness.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
