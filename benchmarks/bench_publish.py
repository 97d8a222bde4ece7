"""Live cost against a baseline revision, in one run: the incremental step (absorb
1,000 events, publish both documents) at growing history, and the publish at 500
symbols.

    python -m benchmarks.bench_publish [--baseline REV] [--history 10000,1000000]
                                       [--repeat 3] [--out benchmarks/RESULTS-publish.md]

The baseline is checked out into a temporary git worktree; each measurement runs the
``incremental`` and ``publish`` jobs of :mod:`benchmarks.bench_intel` in a fresh
process of each tree (its own code and its own copy of the job), the two trees
alternating, on the same generated logs. Figures are medians of ``--repeat`` runs;
the ratio baseline ÷ this tree is the speed-up. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import generate

STEPS_INCREMENT = 5 * 1_000  # bench_intel's STEPS × INCREMENT: the tail it holds back


def job(tree: Path, name: str, arg: str) -> dict[str, Any]:
    """One ``bench_intel`` job in a fresh process of ``tree``."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_intel", "--job", name, arg],
        cwd=tree, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )  # fmt: skip
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default="60492ca")
    p.add_argument("--history", default="10000,1000000")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "ei-bench"))
    p.add_argument("--out", default="benchmarks/RESULTS-publish.md")
    a = p.parse_args(argv)
    here = Path.cwd()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)

    def log_of(n: int, **kw: Any) -> str:
        tag = "_".join(f"{k}{v}" for k, v in sorted(kw.items()))
        path = work / f"rm_{n}{'_' + tag if tag else ''}.jsonl"
        if not path.exists():
            generate.write(path, n, **kw)
        return str(path)

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    base_tree = Path(tempfile.mkdtemp(prefix="ei-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(base_tree), a.baseline],
                   cwd=here, capture_output=True, check=True)  # fmt: skip
    trees = {"this tree": here, f"baseline {a.baseline}": base_tree}
    cells: list[tuple[str, str, str]] = [
        (f"incremental at {int(h):,}", "incremental", log_of(int(h) + STEPS_INCREMENT))
        for h in a.history.split(",") if h
    ]  # fmt: skip
    cells.append(("publish at 500 symbols", "publish", log_of(200_000, symbols=500)))
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    load_before = os.getloadavg()[0]
    try:
        for _ in range(a.repeat):
            for title, name, path in cells:
                for label, tree in trees.items():
                    results.setdefault((title, label), []).append(job(tree, name, path))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=here,
                       capture_output=True, check=False)  # fmt: skip
    load_after = os.getloadavg()[0]

    def med(title: str, label: str, key: str) -> float:
        return statistics.median(r[key] for r in results[(title, label)]) * 1e3

    lines = [
        "# Live cost: incremental step and publish, against a baseline in the same run",
        "",
        f"Command: `python -m benchmarks.bench_publish {' '.join(argv or sys.argv[1:])}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()}; this tree at {head}; "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; load average "
        f"{load_before:.1f} before, {load_after:.1f} after (2 would be a machine to itself).",
        "",
        f"Medians of {a.repeat} runs of each, the two trees alternating; wall time.",
        "",
        "| measurement | figure | this tree ms | baseline ms | baseline ÷ this |",
        "|---|---|---:|---:|---:|",
    ]
    base = f"baseline {a.baseline}"
    for title, name, _ in cells:
        keys = [("step_s", "absorb 1,000 + publish")] if name == "incremental" else [
            ("first_s", "first publish"), ("after_10_s", "after 10 events"),
            ("after_1000_s", "after 1,000 events"),
        ]  # fmt: skip
        for key, what in keys:
            ours, theirs = med(title, "this tree", key), med(title, base, key)
            lines.append(f"| {title} | {what} | {ours:.1f} | {theirs:.1f} | "
                         f"{theirs / ours:.2f}× |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    Path(a.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
