"""Hostile lines end to end: ``replay`` and ``follow`` as real processes and both
dashboard pages, on a log of good events mixed with lines built to break things
(extreme and subnormal numbers, a risk that makes R overflow, notionals whose sum
would overflow, timestamps beyond the calendar, huge integers, NaN/Infinity, deep
nesting, wrong types, invalid UTF-8, a flood of distinct symbols and strategies,
duplicates, non-objects).

Checks: both commands exit 0 with no traceback; every line is accounted for
(applied + rejected + skipped == lines, with each reject under a reason); ``follow``
ends with the documents of ``replay`` (floats within 1e-9 relative, absolute below
magnitude 1: a replay folds large blocks, a follow small ones); the pages render both
documents with no exception. ``tests/faults/test_fuzz.py`` runs a small version; the full one is

    python -m tests.faults.fuzz --lines 100000 [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.intel.builders import assert_close

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
EXTREME = ["1e308", "-1e308", "5e-324", "-5e-324", "1e-320", "1e15", "1e16", "-1e300",
           "123456789012345678901234567890", "0", "-0.0", "1e999", "NaN", "Infinity",
           "-Infinity", '"12"', "true", "null", "[]", "{}"]  # fmt: skip


def good_line(i: int, rng: random.Random) -> bytes:
    ts = 1_700_000_000 + i * 7.5
    sym = f"SYM{rng.randrange(30):02d}"
    if rng.random() < 0.5:
        return json.dumps(
            {"ts": ts, "event": "trade", "symbol": sym, "trade_id": f"t{i}",
             "pnl_usd": round(rng.gauss(2, 20), 2), "risk_usd": 10.0,
             "strategy": rng.choice(["a", "b"]), "policy": "maker_first"}
        ).encode()  # fmt: skip
    return json.dumps(
        {"ts": ts, "event": "order", "symbol": sym, "order_id": f"o{i}", "side": "BUY",
         "status": rng.choice(["FILLED", "PARTIALLY_FILLED", "REJECTED", "CANCELED"]),
         "qty": 1.0, "price": 100.0, "notional_usd": 100.0, "is_maker": rng.random() < 0.5,
         "fallback": False, "slippage_bps": round(rng.gauss(0, 2), 3), "latency_ms": 3.0,
         "fee_usd": 0.01}
    ).encode()  # fmt: skip


def hostile_line(i: int, rng: random.Random, recent: list[bytes]) -> bytes:
    kind = rng.randrange(12)
    ts = 1_700_000_000 + i * 7.5
    if kind == 0:  # an extreme value in a numeric field of an otherwise good event
        field = rng.choice(["ts", "pnl_usd", "risk_usd"])
        base = {"ts": ts, "event": "trade", "symbol": "X", "trade_id": f"h{i}",
                "pnl_usd": 1.0, "risk_usd": 1.0}  # fmt: skip
        text = json.dumps(base).replace(f'"{field}": {json.dumps(base[field])}',
                                        f'"{field}": {rng.choice(EXTREME)}')  # fmt: skip
        return text.encode()
    if kind == 1:  # orders whose notionals would sum past the float range
        return json.dumps(
            {"ts": ts, "event": "order", "symbol": "BIG", "order_id": f"n{i}", "side": "SELL",
             "status": "FILLED", "qty": 1, "price": 1, "notional_usd": 1e308, "is_maker": True,
             "fallback": False, "slippage_bps": 0, "latency_ms": 0, "fee_usd": 0}
        ).encode()  # fmt: skip
    if kind == 2:  # a flood of distinct groups
        return json.dumps(
            {"ts": ts, "event": "trade", "symbol": f"Z{i:07d}", "strategy": f"s{i}",
             "trade_id": f"z{i}", "pnl_usd": 1.0, "risk_usd": 2.0}
        ).encode()  # fmt: skip
    if kind == 3:
        return b'{"event":"trade","ts":1,"x":' + b"[" * 3000 + b"]" * 3000 + b"}"
    if kind == 4:
        return b'{"event":"trade","ts":"yesterday","symbol":5,"trade_id":[]}'
    if kind == 5:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 60))).replace(b"\n", b"")
    if kind == 6 and recent:
        return rng.choice(recent)  # a duplicate id
    if kind == 7:
        return b'{"ts":%d,"event":"trade","symbol":"\xff\xfe","trade_id":"u%d"}' % (ts, i)
    if kind == 8:
        return rng.choice([b"[]", b"12", b'"s"', b"null", b"{", b""])
    if kind == 9:
        return json.dumps({"ts": ts, "event": "heartbeat", "symbol": "X"}).encode()
    if kind == 10:  # R from a subnormal risk
        return json.dumps(
            {"ts": ts, "event": "trade", "symbol": "R", "trade_id": f"r{i}",
             "pnl_usd": 1e10, "risk_usd": 5e-324}
        ).encode()  # fmt: skip
    return b'{"ts":%d,"event":"order","symbol":"Y","order_id":"y%d","qty":1e400}' % (ts, i)


def make_log(path: Path, lines: int, seed: int) -> int:
    rng = random.Random(seed)
    recent: list[bytes] = []
    with path.open("wb") as fh:
        for i in range(lines):
            if rng.random() < 0.3:
                line = good_line(i, rng)
                recent = [*recent[-50:], line]
            else:
                line = hostile_line(i, rng, recent)
            fh.write(line + b"\n")
    return lines


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "execution.intel", *args],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def accounted(doc: dict[str, Any]) -> int:
    i = doc["inputs"]
    assert i["rejected"] == sum(i["reject_reasons"].values()), i
    return int(i["events"]) + int(i["rejected"]) + int(i.get("skipped", 0))


def without_wall(doc: dict[str, Any]) -> dict[str, Any]:
    """Without when and by what (replay, follow) the document was produced."""
    return {k: v for k, v in doc.items() if k not in ("generated_at", "source")}


def history_rows(state: Path) -> list[tuple[Any, ...]]:
    """Every row of the history store, in key order."""
    db = sqlite3.connect(state / "history_v6.sqlite")
    try:
        return [
            *db.execute("SELECT * FROM buckets ORDER BY bucket"),
            *db.execute("SELECT * FROM symbols ORDER BY symbol, window, bucket"),
            *db.execute("SELECT * FROM fund ORDER BY window, bucket"),
        ]
    finally:
        db.close()


def follow_until(log: Path, state: Path, lines: int, timeout: float = 600) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "execution.intel", "follow", str(log), "--state-dir",
         str(state), "--interval", "0.2"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                doc = json.loads((state / "expectancy_v6.json").read_text())
                if accounted(doc) == lines:
                    break
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    return err


def render_pages(state: Path) -> None:
    from streamlit.testing.v1 import AppTest  # noqa: PLC0415 - only the page check needs it

    os.environ["EI_STATE_DIR"] = str(state)
    for page in (None, "intelligence"):
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
        if page:
            at.query_params["page"] = page
        at.run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]


def fuzz(lines: int, seed: int, work: Path, pages: bool = True) -> dict[str, Any]:
    log = work / "hostile.jsonl"
    make_log(log, lines, seed)
    replayed = work / "replayed"
    r = run("replay", str(log), "--state-dir", str(replayed))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    doc = json.loads((replayed / "expectancy_v6.json").read_text())
    assert accounted(doc) == lines, (accounted(doc), lines)
    followed = work / "followed"
    err = follow_until(log, followed, lines)
    assert "Traceback" not in err, err[-2000:]
    fdoc = json.loads((followed / "expectancy_v6.json").read_text())
    assert_close(without_wall(fdoc), without_wall(doc))  # floats within 1e-9
    assert history_rows(followed) == history_rows(replayed)  # the same history
    if pages:
        render_pages(replayed)
    return doc["inputs"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="hostile lines through replay, follow and the page")
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        inputs = fuzz(args.lines, args.seed, Path(tmp))
    print(f"{args.lines:,} lines in {time.perf_counter() - began:.1f}s: "
          f"{inputs['events']:,} applied, {inputs['rejected']:,} rejected, "
          f"{inputs.get('skipped', 0):,} skipped; 0 tracebacks")  # fmt: skip
    print(json.dumps(inputs["reject_reasons"], sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
