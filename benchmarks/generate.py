"""Seeded router-metrics logs of any length, shaped like the executor's output.

    python -m benchmarks.generate --events 1000000 --out /tmp/rm_1m.jsonl [--symbols 20]
                                  [--bad 0.001] [--missing 0] [--pretty 0]

Each round trip writes its order outcomes (a maker-first entry that fills passively,
or is canceled and falls back to a taker fill, or is rejected; a taker exit) and then
its closed trade, at a steady desk-wide rate (``--per-day`` events of event time per
day), so a ``7d`` window holds the same number of events however long the history.
Symbols differ in edge and slippage; about one line in a thousand is bad (malformed
JSON, a wrong type, a non-finite token, a duplicate of an earlier line, an unknown
event kind), the mix a real log collects.

Two options change the shape of the lines, never the events behind them (each off
by default, and off they leave the output as it always was):

* ``--missing P`` — trades also carry ``r_multiple``; then each of ``strategy``,
  ``policy``, ``regime`` (every event), ``risk_usd`` and ``r_multiple`` (trades) is
  left out with probability ``P``, drawn from a stream of its own;
* ``--pretty 1`` writes every line with a space after each ``:`` and ``,`` (the
  separators of ``json.dumps``); ``--pretty 2`` also pads the braces and puts a space
  before each separator (``{ "event" : "order" , ... }``).
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Iterator
from pathlib import Path

STRATEGIES = ("trend_follow", "mean_revert")
REGIMES = ("maker_first", "taker_heavy", "calm")
T0 = 1_700_000_000.0
OPTIONAL = re.compile(r',"(strategy|policy|regime|risk_usd|r_multiple)":("[^"]*"|[^,}]*)')


def _order(ts: float, sym: str, strat: str, pol: str, reg: str, oid: int, **f: object) -> str:
    status = f.get("status", "FILLED")
    maker = "true" if f.get("is_maker") else "false"
    fallback = "true" if f.get("fallback") else "false"
    notional = f.get("notional", 0.0)
    slip = f.get("slippage")
    slip_s = "" if slip is None else f',"slippage_bps":{slip:.4f}'
    return (
        f'{{"event":"order","ts":{ts:.3f},"symbol":"{sym}","strategy":"{strat}",'
        f'"policy":"{pol}","regime":"{reg}","order_id":"o-{oid:09d}","side":"{f["side"]}",'
        f'"status":"{status}","qty":{f.get("qty", 0.0):.4f},"price":{f.get("price", 0.0):.6f},'
        f'"notional_usd":{notional:.2f},"is_maker":{maker},"fallback":{fallback}'
        f'{slip_s},"latency_ms":{f["latency"]:.1f},"fee_usd":{notional * 4e-4:.4f}}}'
    )


def _thin(line: str, rng: random.Random, p: float) -> str:
    """``line`` without each of its optional fields, each with probability ``p``."""
    return OPTIONAL.sub(lambda m: "" if rng.random() < p else m.group(0), line)


def _pretty(line: str, level: int) -> str:
    """``line`` with the whitespace of ``json.dumps`` (1), or more of it (2)."""
    if level == 1:
        return line.replace('":', '": ').replace(',"', ', "')
    line = line.replace('":', '" : ').replace(',"', ' , "')
    line = "{ " + line[1:] if line.startswith("{") else line
    return line[:-1] + " }" if line.endswith("}") else line


def events(
    n: int,
    *,
    seed: int = 1,
    symbols: int = 20,
    per_day: float = 27_000.0,
    bad: float = 0.001,
    missing: float = 0.0,
    pretty: int = 0,
) -> Iterator[str]:
    """``n`` lines (good and bad), oldest first."""
    lines = _events(n, seed=seed, symbols=symbols, per_day=per_day, bad=bad, missing=missing)
    return (_pretty(line, pretty) for line in lines) if pretty else lines


def _events(
    n: int, *, seed: int, symbols: int, per_day: float, bad: float, missing: float
) -> Iterator[str]:
    rng = random.Random(seed)
    thin = random.Random(seed + 7919)  # its own stream: the events stay the same
    names = [f"S{i:03d}USDT" for i in range(symbols)]
    edge = {s: rng.gauss(0.05, 0.15) for s in names}
    base_slip = {s: rng.uniform(0.2, 6.0) for s in names}
    price = {s: rng.uniform(0.5, 500.0) for s in names}
    step = 86_400.0 / per_day
    ts = T0
    oid = tid = 0
    emitted = 0
    recent: list[str] = []
    while emitted < n:
        sym = rng.choice(names)
        strat = rng.choice(STRATEGIES)
        pol = "maker_first" if rng.random() < 0.6 else "taker_only"
        reg = rng.choice(REGIMES)
        side = rng.choice(("BUY", "SELL"))
        px = price[sym]
        qty = round(rng.uniform(500, 50_000) / px, 4)
        lines: list[str] = []

        def fill(maker: bool, fallback: bool, sd: str) -> str:
            nonlocal oid, ts
            oid += 1
            ts += step
            slip = rng.gauss(-0.5 if maker else base_slip[sym], 1.0)
            return _order(
                ts, sym, strat, pol, reg, oid, side=sd, qty=qty, price=px,
                notional=qty * px, is_maker=maker, fallback=fallback, slippage=slip,
                latency=rng.uniform(5, 120),
            )  # fmt: skip

        def outcome(status: str, sd: str) -> str:
            nonlocal oid, ts
            oid += 1
            ts += step
            return _order(ts, sym, strat, pol, reg, oid, side=sd, status=status,
                          latency=rng.uniform(5, 120))  # fmt: skip

        if rng.random() < 0.01:
            lines.append(outcome("REJECTED", side))
        else:
            if pol == "maker_first":
                if rng.random() < 0.7:
                    lines.append(fill(True, False, side))
                else:
                    lines.append(outcome("CANCELED", side))
                    lines.append(fill(False, True, side))
            else:
                lines.append(fill(False, False, side))
            lines.append(fill(False, False, "SELL" if side == "BUY" else "BUY"))
            tid += 1
            ts += step
            risk = rng.choice((50.0, 100.0, 250.0, 500.0))
            r = rng.gauss(edge[sym], 1.1)
            risk_s = f',"risk_usd":{risk:.1f}' if rng.random() > 0.03 else ""
            if missing:
                risk_s += f',"r_multiple":{r:.6f}'
            lines.append(
                f'{{"event":"trade","ts":{ts:.3f},"symbol":"{sym}","strategy":"{strat}",'
                f'"policy":"{pol}","regime":"{reg}","trade_id":"t-{tid:09d}",'
                f'"direction":"{"LONG" if side == "BUY" else "SHORT"}","pnl_usd":{r * risk:.2f}'
                f'{risk_s},"notional_usd":{qty * px:.2f},"entry_ts":{ts - 600:.3f},'
                f'"exit_ts":{ts:.3f},"exit_reason":"target"}}'
            )
        if missing:
            lines = [_thin(line, thin, missing) for line in lines]
        for line in lines:
            if emitted >= n:
                return
            if bad and rng.random() < bad and recent:
                yield _bad(rng, recent)
                emitted += 1
                if emitted >= n:
                    return
            yield line
            emitted += 1
            if len(recent) < 64 or rng.random() < 0.01:
                recent.append(line)
                if len(recent) > 64:
                    recent.pop(0)


def _bad(rng: random.Random, recent: list[str]) -> str:
    good = rng.choice(recent)
    kind = rng.randrange(6)
    if kind == 0:
        return good[: rng.randrange(1, len(good) - 1)]  # torn
    if kind == 1:
        return good.replace('"ts":', '"ts":"', 1)  # not JSON any more
    if kind == 2:
        return good.replace('"symbol":', '"symbol":7,"x":', 1)  # wrong type
    if kind == 3:
        return good.replace('"ts":', '"ts":NaN,"t0":', 1)  # non-finite token
    if kind == 4:
        return good  # a duplicate id
    return f'{{"event":"heartbeat","ts":{T0:.3f},"symbol":"S000USDT"}}'  # unknown kind


def write(path: str | Path, n: int, **kw: object) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        batch: list[str] = []
        for line in events(n, **kw):  # type: ignore[arg-type]
            batch.append(line)
            if len(batch) >= 10_000:
                f.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            f.write("\n".join(batch) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--symbols", type=int, default=20)
    p.add_argument("--per-day", type=float, default=27_000.0)
    p.add_argument("--bad", type=float, default=0.001, help="share of bad lines (0: clean)")
    p.add_argument("--missing", type=float, default=0.0, help="share of optional fields left out")
    p.add_argument("--pretty", type=int, choices=(0, 1, 2), default=0, help="whitespace level")
    a = p.parse_args(argv)
    write(a.out, a.events, seed=a.seed, symbols=a.symbols, per_day=a.per_day, bad=a.bad,
          missing=a.missing, pretty=a.pretty)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
