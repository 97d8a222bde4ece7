"""Generated multi-source logs and the plain reference of the fund contract: one
engine fed, through its ordinary ``feed_many``, every valid line of every source
in the contract order (each source in file order, the sources merged by the
running largest ``ts`` of their own lines, ties to the earlier source), and the
lines that give no event after them."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from execution.intel.events import make_decoder, source_label
from execution.intel.expectancy_v6 import ExpectancyEngine
from streaming.decode import Reject, Skip

T0 = 1_763_856_000.0
WINDOWS = ("all", "3t", "40s")
KINDS = ("trade", "trade", "order", "bad", "late", "future", "heartbeat")


def event_line(  # noqa: PLR0917 - one field per column of ROW
    kind: str,
    ts: float,
    ident: int,
    symbol: str,
    pnl: float,
    strat: str,
    executor: str | None = None,
) -> bytes:
    if kind == "bad":
        return b'{"event":"trade","ts":'
    if kind == "heartbeat":
        return json.dumps({"event": "heartbeat", "ts": ts}).encode()
    if kind == "order":
        e: dict[str, Any] = {
            "event": "order", "ts": ts, "symbol": symbol, "order_id": f"o{ident}",
            "strategy": strat, "status": "FILLED", "notional_usd": 100.0,
            "slippage_bps": pnl, "latency_ms": 5.0,
        }  # fmt: skip
    else:
        e = {
            "event": "trade", "ts": ts, "symbol": symbol, "trade_id": f"t{ident}",
            "strategy": strat, "pnl_usd": pnl, "risk_usd": 10.0,
        }  # fmt: skip
    if executor is not None:
        e["executor"] = executor
    return json.dumps(e).encode()


ROW = st.tuples(
    st.sampled_from(KINDS),
    st.integers(0, 3),  # seconds after the line before: ties are common
    st.integers(0, 25),  # ids from a small pool: duplicates within and across sources
    st.sampled_from(["BTC", "ETH", "SOL", "XRP"]),
    st.integers(-20, 20).map(float),
    st.sampled_from(["trend", "revert", "carry"]),
    st.sampled_from([None, None, "desk-a", "desk-b"]),  # executor: None is the source's
)


@st.composite
def fund_logs(draw: st.DrawFn, max_sources: int = 3, max_lines: int = 30) -> list[list[bytes]]:
    """1..``max_sources`` sources of lines: interleaved times with ties, duplicate
    ids, late and far-future lines, bad lines and lines of another kind; a source
    may start well after the others (so states do not always overlap)."""
    out = []
    for _ in range(draw(st.integers(1, max_sources))):
        t = T0 + draw(st.sampled_from([0.0, 0.0, 200.0, 400.0]))
        lines = []
        for kind, dt, ident, symbol, pnl, strat, ex in draw(st.lists(ROW, max_size=max_lines)):
            t += dt
            ts = t - 30.0 if kind == "late" else t + 1e6 if kind == "future" else t
            lines.append(event_line(kind, ts, ident, symbol, pnl, strat, ex))
        out.append(lines)
    return out


def write_sources(
    root: Path, sources: list[list[bytes]], gz: list[bool] | None = None
) -> list[str]:
    """Each source as ``s<k>.jsonl`` (or ``.jsonl.gz``) under ``root``; their paths."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, lines in enumerate(sources):
        data = b"".join(x + b"\n" for x in lines)
        if gz and gz[k]:
            path = root / f"s{k}.jsonl.gz"
            path.write_bytes(gzip.compress(data, mtime=0))
        else:
            path = root / f"s{k}.jsonl"
            path.write_bytes(data)
        paths.append(str(path))
    return paths


def labelled(raw: bytes, label: str) -> bytes:
    """The line of an event with its source's label as ``executor`` when it names
    none (what the executors grouping reads from a line of that source)."""
    obj = json.loads(raw)
    if "executor" in obj:
        return raw
    return json.dumps({**obj, "executor": label}).encode()


def contract_lines(sources: list[list[bytes]], labels: Sequence[str] | None = None) -> list[bytes]:
    """The lines in the contract order: valid lines by (running largest ts of their
    source, source, position), then the lines that give no event. With ``labels``
    (one per source), each event that names no executor is given its source's."""
    decode = make_decoder(None).decode
    keyed, rest = [], []
    for k, lines in enumerate(sources):
        top = float("-inf")
        for pos, raw in enumerate(lines):
            e = decode(raw)
            if isinstance(e, Reject | Skip):
                rest.append(raw)
            else:
                top = max(top, e.ts)
                keyed.append((top, k, pos, labelled(raw, labels[k]) if labels else raw))
    keyed.sort(key=lambda x: x[:3])
    return [raw for *_, raw in keyed] + rest


def reference(
    sources: list[list[bytes]], engine: ExpectancyEngine, paths: Sequence[str | Path]
) -> dict[str, Any]:
    """The fund document of ``sources`` read from ``paths`` (as given to the
    replay: each source's events that name no executor are its path's)."""
    engine.feed_many(contract_lines(sources, [source_label(p) for p in paths]))
    return engine.document(generated_at=0.0)
