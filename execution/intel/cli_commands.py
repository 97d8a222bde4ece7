"""The commands of the command line: replay, merge, follow and show.

Each ``cmd_*`` takes the parsed arguments, checks them and its inputs (regular
files, windows, the configuration; one :class:`CliError` with its exit status for
anything wrong, never a traceback), holds the state-directory lock while it
writes, runs the replay, merge or follower, and prints what it did
(:mod:`execution.intel.cli_format`). The parser and :func:`~execution.intel.cli.main`
are in :mod:`execution.intel.cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from urllib.parse import unquote, urlsplit

from execution.config import ConfigError, IntelConfig, load_intel_config, window_problem
from execution.intel.cli_format import (
    Progress,
    _inputs_line,
    _report_replay,
    format_table,
    report_documents,
)
from execution.intel.cli_history import show_history
from execution.intel.expectancy_v6 import EngineStateError
from execution.intel.follow_runner import CHECKPOINT_FILE, FollowRunner
from execution.intel.history_store import HistoryError
from execution.intel.runner import replay
from execution.state_publish import EXPECTANCY_FILE, SCORES_FILE, read_state
from streaming.checkpoint import CheckpointError, CheckpointStore
from streaming.inputs import InputError, check_regular, open_input, rotated_set
from streaming.lock import StateDirError, StateDirLock

DEFAULT_CONFIG = Path("config/intel_v6.json")
DEFAULT_STATE_DIR = Path("logs/state")
EXIT_USAGE = 2
EXIT_CHECKPOINT = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class ReplayInterruptedError(CliError):
    """SIGINT stopped a replay: the message (printed as it is) says what it left."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_INTERRUPTED)


def _why(exc: OSError) -> str:
    """An OSError in the words of the one-line errors (``sources.py`` says the same)."""
    return "permission denied" if isinstance(exc, PermissionError) else str(exc.strerror or exc)


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
        raise CliError(f"{prefix}{path}: {_why(exc)}") from None


def _local_path(given: str) -> str | None:
    """The local path ``given`` names: itself, or a ``file://`` URL's path with its
    percent-escapes decoded; None for a URL of another protocol (what
    :func:`execution.intel.sources.list_sources` reads with fsspec)."""
    head, sep, _ = given.partition("://")
    if not (sep and head.isidentifier()):
        return given
    if head.lower() != "file":
        return None
    url = urlsplit(given)
    if url.netloc not in ("", "localhost"):
        raise CliError(f"{given}: a file:// URL of another host; give a local path")
    return unquote(url.path, errors="surrogateescape")


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
    """Every input (and, with ``rotated``, its rotated set) is a regular file this
    process can open: said before anything is written."""
    for name in paths:
        _regular(Path(name), missing_ok=False)
        try:
            files = [Path(name), *(rotated_set(name)[:-1] if rotated else [])]
        except OSError as exc:  # its directory cannot be listed
            raise CliError(f"{name}: {_why(exc)}") from None
        for path in files:
            _regular(path, missing_ok=False)
            try:
                with open_input(path):
                    pass
            except InputError as exc:
                raise CliError(str(exc)) from None
            except OSError as exc:
                raise CliError(f"{path}: {_why(exc)}") from None


def _lock(state_dir: str) -> StateDirLock:
    try:
        return StateDirLock(state_dir).acquire()
    except StateDirError as exc:
        raise CliError(str(exc)) from None


def _documents(state_dir: str) -> dict[Path, tuple[int, int] | None]:
    """(inode, mtime) of each published document (None: absent): a publish is an
    atomic rename, so a document written since differs."""
    out: dict[Path, tuple[int, int] | None] = {}
    for path in (Path(state_dir) / EXPECTANCY_FILE, Path(state_dir) / SCORES_FILE):
        try:
            st = os.stat(path)
        except OSError:
            out[path] = None
        else:
            out[path] = (st.st_ino, st.st_mtime_ns)
    return out


@contextlib.contextmanager
def _interruptible(state_dir: str, *, between_batches: bool) -> Iterator[Callable[[], None]]:
    """SIGINT during a replay as one line and exit status 130, never a traceback: an
    :class:`ReplayInterruptedError` saying whether documents were written meanwhile.

    With ``between_batches`` (a replay that stores history snapshots) the signal
    only sets a flag and the check yielded, called between batches, raises: never
    inside a transaction of the history store, which is closed on the way out.
    Otherwise the signal interrupts at once (nothing is written before the publish
    at the end, each document an atomic rename)."""
    asked = False

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        nonlocal asked
        asked = True
        if not between_batches:
            raise KeyboardInterrupt

    def check() -> None:
        if asked:
            raise KeyboardInterrupt

    before = _documents(state_dir)
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield check
        check()  # asked for after the last batch: the documents say whether it finished
    except KeyboardInterrupt:
        now = _documents(state_dir)
        written = [str(path) for path, was in before.items() if now[path] != was]
        raise ReplayInterruptedError(
            f"replay: interrupted; already written: {', '.join(written)}"
            if written
            else "replay: interrupted; nothing published"
        ) from None
    finally:
        signal.signal(signal.SIGINT, previous)


def cmd_replay(args: argparse.Namespace) -> int:
    from execution.intel.sources import is_glob  # noqa: PLC0415 - cheap; keeps imports lazy

    local = [_local_path(f) for f in args.files]  # a file:// URL is its local path
    # … on every path, so its label is the path's too (a URL of another protocol stays)
    args.files = [f if p is None else p for f, p in zip(args.files, local, strict=True)]
    fund = args.cluster is not None or len(args.files) > 1 or args.save_state
    if fund or any(p is None or is_glob(f) for f, p in zip(args.files, local, strict=True)):
        return cmd_replay_fund(args)  # a glob: one source per match; a URL: fsspec
    files = [p for p in local if p is not None]
    cfg = _config(args.config)
    if args.jobs is not None and args.jobs < 1:
        raise CliError("--jobs must be at least 1")
    _positive_top(args.top)
    _windows(args.window)
    _check_inputs(files, not args.no_rotated)
    history = cfg.history.enabled and not args.no_history
    lock = _lock(args.state_dir)
    sizes = [p.stat().st_size for p in map(Path, files) if p.is_file()]
    progress = Progress(sys.stderr, total_bytes=sum(sizes))
    try:
        with _interruptible(args.state_dir, between_batches=history) as check:

            def step(lines: int) -> None:
                check()
                progress(lines)

            result = replay(
                files,
                cfg,
                state_dir=args.state_dir,
                windows=_windows(args.window),
                rotated=not args.no_rotated,
                progress=step,
                jobs=args.jobs,
                history=history,
            )
    except (FileNotFoundError, IsADirectoryError, InputError, HistoryError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:  # writing a document, or a read in a worker (--jobs)
        raise CliError(f"{exc.filename or 'replay'}: {_why(exc)}") from None
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
    from execution.intel.cluster import replay_sources  # noqa: PLC0415 - only this command
    from execution.intel.cluster_connect import ClusterError, cluster_problem  # noqa: PLC0415
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
        with _interruptible(args.state_dir, between_batches=False):
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
    report_documents(scores, args)
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
    local = _local_path(args.file)
    if local is None:
        raise CliError(f"{args.file}: follow reads local files (a path or a file:// URL)")
    args.file = local  # its label too: the path, as `replay file://…` gives it
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
