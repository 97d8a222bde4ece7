"""Command line of Execution Intelligence v6 (architecture §6)::

    python -m execution.intel replay FILE...   [--state-dir DIR] [--config FILE] [--window SPEC]...
                                               [--cluster local[:N]|tcp://HOST:PORT] [--part-mb MB]
                                               [--wait-workers S] [--save-state] [--no-history]
    python -m execution.intel merge DIR...     --state-dir OUT [--config FILE]
    python -m execution.intel follow FILE      [--state-dir DIR] [--checkpoint FILE] [--interval S]
    python -m execution.intel show             [--state-dir DIR] [--top N]
    python -m execution.intel show --history SYMBOL [--window W] [--json]

``replay`` reads complete logs (each FILE with its rotated set ``FILE.N[.gz]``,
oldest first, unless ``--no-rotated``), writes both documents and prints the top
of the ranking. ``follow`` tails a live log across rotation and truncation,
publishes on the throttle, resumes from its checkpoint, and on SIGINT/SIGTERM
stops with a final publish. ``show`` prints the published ranking, or with
``--history`` a symbol's (or ``FUND``'s) snapshot history (docs/history.md).

Several FILEs (one log per executor; a glob for many) replay into one fund view
in the contract order of ``docs/scale-out.md``; ``--cluster`` reads them on Dask
workers. ``merge`` combines states saved by ``replay --save-state`` where that is
exact, and refuses otherwise.

Exit status: 0 on success; 2 for a missing file, bad configuration or bad
arguments; 3 when a checkpoint exists but cannot be used. Every error is one line
on stderr. Bad lines in a log are counted in the documents, never fatal.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from execution.config import ConfigError, IntelConfig, load_intel_config, window_problem
from execution.intel.cli_history import show_history
from execution.intel.expectancy_v6 import EngineStateError
from execution.intel.follow_runner import CHECKPOINT_FILE, FollowRunner
from execution.intel.history_store import HistoryError
from execution.intel.runner import replay
from execution.state_publish import EXPECTANCY_FILE, SCORES_FILE, read_state
from streaming.checkpoint import CheckpointError, CheckpointStore
from streaming.inputs import InputError, check_regular, rotated_set
from streaming.lock import StateDirError, StateDirLock

DEFAULT_CONFIG = Path("config/intel_v6.json")
DEFAULT_STATE_DIR = Path("logs/state")
EXIT_USAGE = 2
EXIT_CHECKPOINT = 3


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# --- presentation ---------------------------------------------------------------------

COLUMNS = {  # score component -> table heading
    "expectancy": "exp",
    "hit_rate": "hit",
    "slippage": "slip",
    "router_quality": "rout",
    "reject_rate": "rej",
    "liquidity": "liq",
    "volatility": "vol",
}


def _fmt(x: Any, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def format_table(scores: Mapping[str, Any], top: int | None = None) -> str:
    """The ranking as a fixed-width table, best first."""
    entries = list(scores.get("symbols", []))[: top if top else None]
    head = (
        f"{'rank':>4}  {'symbol':<12}{'score':>7}{'conf':>6}{'trades':>7}{'avg R':>8}"
        f"{'hit':>6}{'slip bp':>8}  " + "".join(f"{name:>6}" for name in COLUMNS.values())
    )
    rows = [
        f"window {scores.get('window')}, {len(scores.get('symbols', []))} symbols, "
        f"as of {_fmt_ts(scores.get('as_of'))}",
        head,
    ]
    for e in entries:
        c, i = e["components"], e["inputs"]
        rows.append(
            f"{e['rank']:>4}  {e['symbol']:<12}{e['score']:>+7.3f}{e['confidence']:>6.2f}"
            f"{e['trades']:>7}{_fmt(i.get('avg_r'), '+8.3f'):>8}"
            f"{_fmt(i.get('hit_rate'), '6.2f'):>6}"
            f"{_fmt(i.get('avg_slippage_bps'), '8.2f'):>8}  "
            + "".join(f"{c.get(k, 0.0):>+6.2f}" for k in COLUMNS)
            + (f"  missing: {', '.join(e['missing'])}" if e.get("missing") else "")
        )
    if not entries:
        rows.append("  (no symbols with events in this window)")
    return "\n".join(rows)


def _fmt_ts(ts: Any) -> str:
    """A timestamp as UTC text; one outside the calendar's range is shown as a number."""
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        return "—"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))
    except (OverflowError, OSError, ValueError):
        return f"ts {ts:g} (outside the calendar)"


def _inputs_line(expectancy: Mapping[str, Any]) -> str:
    i = expectancy.get("inputs", {})
    reasons = ", ".join(f"{k} {v}" for k, v in i.get("reject_reasons", {}).items())
    return (
        f"{i.get('events', 0):,} events ({i.get('orders', 0):,} orders, "
        f"{i.get('trades', 0):,} trades); {i.get('rejected', 0):,} rejected"
        + (f" ({reasons})" if reasons else "")
        + f"; {i.get('skipped', 0):,} skipped; {i.get('gaps', 0)} gaps"
    )


class Progress:
    """Replay progress on stderr: on a terminal a line rewritten every ``every``
    seconds, elsewhere (a log, ``make``) a line every ``line_every`` seconds."""

    def __init__(
        self, stream: TextIO, every: float = 0.5, line_every: float = 10.0, total_bytes: int = 0
    ) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every = every if self.tty else line_every
        self.total_bytes = total_bytes
        self.started = time.perf_counter()
        self.last = self.started

    def __call__(self, lines: int) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            elapsed = now - self.started
            rate = lines / max(elapsed, 1e-9)
            size = f" of a {self.total_bytes / 1e6:,.1f} MB log" if self.total_bytes else ""
            text = f"replay: {lines:,} lines{size} in {elapsed:,.0f} s ({rate:,.0f} lines/s)"
            self.stream.write(f"\r{text}" if self.tty else f"{text}\n")
            self.stream.flush()

    def done(self) -> None:
        if self.tty and self.last != self.started:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# --- commands -------------------------------------------------------------------------


def _regular(path: Path, what: str = "", *, missing_ok: bool = True) -> None:
    """``path`` must be a regular file (a FIFO or device would hang), or absent when
    ``missing_ok``; ``what`` names it in the one-line error."""
    prefix = f"{what} " if what else ""
    try:
        check_regular(path)
    except FileNotFoundError:
        if not missing_ok:
            raise CliError(f"{prefix}{path}: no such file") from None
    except InputError as exc:
        raise CliError(f"{prefix}{exc}") from None
    except OSError as exc:
        raise CliError(f"{prefix}{path}: {exc.strerror or exc}") from None


def _config(path: str | None) -> IntelConfig:
    if path is None and not DEFAULT_CONFIG.exists():
        return IntelConfig()
    _regular(Path(path or DEFAULT_CONFIG), "config")
    try:
        return load_intel_config(path or DEFAULT_CONFIG)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def _windows(specs: Sequence[str] | None) -> list[str] | None:
    for spec in specs or ():
        problem = window_problem(spec)
        if problem:
            raise CliError(problem)
    return list(specs) if specs else None


def _positive_top(top: int) -> int:
    if top < 1:
        raise CliError(f"--top must be at least 1, not {top}")
    return top


def _check_inputs(paths: Sequence[str], rotated: bool) -> None:
    """Every input (and, with ``rotated``, its rotated set) is a regular file."""
    for name in paths:
        for path in [Path(name), *(rotated_set(name)[:-1] if rotated else [])]:
            _regular(path, missing_ok=False)


def _lock(state_dir: str) -> StateDirLock:
    try:
        return StateDirLock(state_dir).acquire()
    except StateDirError as exc:
        raise CliError(str(exc)) from None


def cmd_replay(args: argparse.Namespace) -> int:
    from execution.intel.sources import is_glob  # noqa: PLC0415 - cheap; keeps imports lazy

    fund = args.cluster is not None or len(args.files) > 1 or args.save_state
    if fund or any(is_glob(f) for f in args.files):  # a glob: one source per match
        return cmd_replay_fund(args)
    cfg = _config(args.config)
    if args.jobs is not None and args.jobs < 1:
        raise CliError("--jobs must be at least 1")
    _positive_top(args.top)
    _windows(args.window)
    _check_inputs(args.files, not args.no_rotated)
    lock = _lock(args.state_dir)
    sizes = [p.stat().st_size for p in map(Path, args.files) if p.is_file()]
    progress = Progress(sys.stderr, total_bytes=sum(sizes))
    try:
        result = replay(
            args.files,
            cfg,
            state_dir=args.state_dir,
            windows=_windows(args.window),
            rotated=not args.no_rotated,
            progress=progress,
            jobs=args.jobs,
            history=cfg.history.enabled and not args.no_history,
        )
    except (FileNotFoundError, IsADirectoryError, InputError, HistoryError) as exc:
        raise CliError(str(exc)) from None
    finally:
        progress.done()
        lock.release()
    _report_replay(
        f"{len(result.files)} file(s)", lines=result.lines, seconds=result.seconds,
        expectancy=result.expectancy, scores=result.scores, args=args,
    )  # fmt: skip
    state = Path(args.state_dir)
    if result.snapshots is not None:
        print(
            f"history: {result.snapshots} new snapshot(s) every {cfg.history.cadence_s} s "
            f"of event time in {state / cfg.history.file}"
        )
    return 0


def cmd_replay_fund(args: argparse.Namespace) -> int:
    """Several sources, or ``--cluster``: one fund view in the contract order
    (:mod:`execution.intel.cluster`)."""
    from execution.intel.cluster import (  # noqa: PLC0415 - only this command needs it
        ClusterError,
        cluster_problem,
        replay_sources,
    )
    from execution.intel.fund import FundStateError  # noqa: PLC0415

    cfg = _config(args.config)
    if args.jobs is not None:
        raise CliError("--jobs applies to one log without --cluster")
    problem = cluster_problem(args.cluster) if args.cluster is not None else None
    if problem:
        raise CliError(problem)
    if not (math.isfinite(args.part_mb) and args.part_mb * (1 << 20) >= 1):
        raise CliError(f"--part-mb must be a positive number of MiB, not {args.part_mb}")
    if not (math.isfinite(args.wait_workers) and args.wait_workers >= 0):
        raise CliError(f"--wait-workers must be a number of seconds, not {args.wait_workers}")
    _positive_top(args.top)
    windows = _windows(args.window)
    logging.getLogger("distributed").setLevel(logging.WARNING)
    lock = _lock(args.state_dir)
    try:
        result = replay_sources(
            args.files,
            cfg,
            state_dir=args.state_dir,
            windows=windows,
            rotated=not args.no_rotated,
            cluster=args.cluster,
            part_bytes=int(args.part_mb * (1 << 20)),
            progress=sys.stderr,
            save_state=args.save_state,
            wait_workers=args.wait_workers,
        )
    except (InputError, ClusterError, FundStateError) as exc:
        raise CliError(str(exc)) from None
    finally:
        lock.release()
    _report_replay(
        f"{len(result.sources)} source(s) ({result.how})", lines=result.lines,
        seconds=result.seconds, expectancy=result.expectancy, scores=result.scores, args=args,
    )  # fmt: skip
    return 0


def _report_replay(
    what: str,
    *,
    lines: int,
    seconds: float,
    expectancy: dict[str, Any],
    scores: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    """What a replay read, the top of its ranking and the documents it wrote."""
    rate = lines / max(seconds, 1e-9)
    print(
        f"replayed {what}, {lines:,} lines in {seconds:.2f}s ({rate:,.0f} lines/s): "
        f"{_inputs_line(expectancy)}"
    )
    print(format_table(scores, args.top))
    state = Path(args.state_dir)
    print(f"wrote {state / EXPECTANCY_FILE} and {state / SCORES_FILE}")


def cmd_merge(args: argparse.Namespace) -> int:
    """Fund states saved by ``replay --save-state`` merged exactly, or refused."""
    from execution.intel.fund import FundStateError, merge_states  # noqa: PLC0415

    cfg = _config(args.config)
    _positive_top(args.top)
    windows = _windows(args.window)
    out = Path(args.state_dir).resolve()
    if any(Path(d).resolve() == out for d in args.dirs):
        raise CliError(f"--state-dir {args.state_dir} is one of the states to merge")
    lock = _lock(args.state_dir)
    try:
        expectancy, scores, merged = merge_states(
            args.dirs, cfg, state_dir=args.state_dir, windows=windows
        )
    except FundStateError as exc:
        raise CliError(str(exc)) from None
    finally:
        lock.release()
    print(
        f"merged {len(args.dirs)} state(s), {len(merged.sources)} source(s): "
        f"{_inputs_line(expectancy)}"
    )
    print(format_table(scores, args.top))
    state = Path(args.state_dir)
    print(f"wrote {state / EXPECTANCY_FILE} and {state / SCORES_FILE}")
    return 0


def cmd_follow(args: argparse.Namespace) -> int:
    # from the start: a stop asked for while the follower starts up takes effect at its
    # first poll, with a checkpoint, instead of killing it half-way
    stop = {"signal": 0}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop["signal"] = signum

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    cfg = _config(args.config)
    if args.interval is not None and args.interval < 0:
        raise CliError("--interval must not be negative")
    if args.heartbeat is not None and not args.heartbeat >= 0:
        raise CliError("--heartbeat must not be negative")
    log_path = Path(args.file)
    if not log_path.parent.is_dir():
        raise CliError(f"{log_path}: no such directory {log_path.parent}")
    try:
        check_regular(log_path)
    except FileNotFoundError:
        if not args.wait:
            raise CliError(f"{log_path}: no such file (--wait to wait for it)") from None
        logging.getLogger("intel").warning("%s does not exist yet; waiting for it", log_path)
    except InputError as exc:
        raise CliError(str(exc)) from None
    ckpt = Path(args.checkpoint) if args.checkpoint else Path(args.state_dir) / CHECKPOINT_FILE
    for path in (ckpt, CheckpointStore(ckpt).prev):
        _regular(path, "checkpoint")
    lock = _lock(args.state_dir)
    try:
        return _follow(args, cfg, stop)
    finally:
        lock.release()


def _follow(args: argparse.Namespace, cfg: IntelConfig, stop: dict[str, int]) -> int:
    try:
        runner = FollowRunner(
            args.file,
            cfg,
            state_dir=args.state_dir,
            checkpoint=args.checkpoint,
            interval=args.interval,
            history=cfg.history.enabled and not args.no_history,
            heartbeat=args.heartbeat,
        )
    except HistoryError as exc:
        raise CliError(str(exc)) from None
    except CheckpointError as exc:
        raise CliError(str(exc), EXIT_CHECKPOINT) from None
    except EngineStateError as exc:
        raise CliError(f"cannot resume: {exc}", EXIT_CHECKPOINT) from None
    generation = runner.stats.resumed_from
    resumed = f" (resumed from the {generation} checkpoint)" if generation else ""
    logging.getLogger("intel").info("following %s%s", args.file, resumed)
    stats = runner.run(lambda: bool(stop["signal"]))
    print(
        f"stopped: {stats.lines:,} lines read, {stats.gaps} gaps, {stats.commits} publishes, "
        f"{stats.commit_failures} failed"
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    _positive_top(args.top)
    if args.history is not None:
        cfg = _config(args.config)
        _windows([args.window] if args.window else None)
        try:
            print(show_history(Path(args.state_dir) / cfg.history.file, args.history,
                               args.window, args.json, cfg.history.cadence_s))  # fmt: skip
        except HistoryError as exc:
            raise CliError(str(exc)) from None
        return 0
    if args.window or args.json:
        raise CliError("--window and --json go with --history SYMBOL")
    path = Path(args.state_dir) / SCORES_FILE
    scores = read_state(args.state_dir, SCORES_FILE)
    if scores is None or scores.get("schema") != "symbol_scores_v6":
        raise CliError(f"{path}: missing or not a symbol_scores_v6 document (run replay or follow)")
    expectancy = read_state(args.state_dir, EXPECTANCY_FILE)
    if expectancy is not None:
        print(_inputs_line(expectancy))
    print(format_table(scores, args.top))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m execution.intel",
        description="Execution Intelligence v6: expectancy surfaces and symbol scores.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="documents go here")
    conf = argparse.ArgumentParser(add_help=False)
    conf.add_argument("--config", help=f"intel config (default {DEFAULT_CONFIG} when present)")

    p = sub.add_parser("replay", parents=[state, conf], help="replay complete logs, publish once")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--window", action="append", metavar="SPEC", help="all, <N>t, <T>s|m|h|d")
    p.add_argument("--no-rotated", action="store_true", help="do not add FILE.N[.gz]")
    p.add_argument("--no-history", action="store_true", help="take no history snapshots")
    p.add_argument("--top", type=int, default=20, help="rows of the ranking to print")
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="processes for a large log (default: the cores, at most 4; 1: one process)",
    )
    p.add_argument(
        "--cluster",
        metavar="SPEC",
        help="read on Dask: local[:N] (N worker processes) or tcp://HOST:PORT (a scheduler)",
    )
    p.add_argument(
        "--part-mb", type=float, default=32.0, help="MiB of a plain file per part (--cluster)"
    )
    p.add_argument(
        "--wait-workers",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds to wait for a worker at a tcp:// scheduler (--cluster)",
    )
    p.add_argument(
        "--save-state",
        action="store_true",
        help="also write the engine state to STATE_DIR, for a later merge",
    )
    p.set_defaults(run=cmd_replay)

    p = sub.add_parser("merge", parents=[conf], help="merge saved fund states exactly (or refuse)")
    p.add_argument("dirs", nargs="+", metavar="STATE_DIR")
    p.add_argument("--state-dir", required=True, help="the merged documents go here")
    p.add_argument("--window", action="append", metavar="SPEC", help="as given to replay")
    p.add_argument("--top", type=int, default=20, help="rows of the ranking to print")
    p.set_defaults(run=cmd_merge)

    p = sub.add_parser("follow", parents=[state, conf], help="tail a live log and publish")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--checkpoint", help="default: STATE_DIR/expectancy_v6.ckpt")
    p.add_argument("--interval", type=float, help="seconds between publishes (config default)")
    p.add_argument(
        "--wait", action="store_true", help="wait for FILE to appear instead of exit status 2"
    )
    p.add_argument("--no-history", action="store_true", help="take no history snapshots")
    p.add_argument(
        "--heartbeat", type=float, metavar="S", help="seconds between heartbeat lines (0: none)"
    )
    p.set_defaults(run=cmd_follow)

    p = sub.add_parser("show", parents=[state, conf], help="print the published ranking")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--history", metavar="SYMBOL", help="a symbol's history (FUND: the fund's)")
    p.add_argument("--window", metavar="W", help="with --history: only this window")
    p.add_argument("--json", action="store_true", help="with --history: JSON lines, oldest first")
    p.set_defaults(run=cmd_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.run(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:  # e.g. piped into head
        return 0
    return code
