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

Exit status: 0 on success; 2 for a missing or unreadable file, bad configuration
or bad arguments; 3 when a checkpoint exists but cannot be used; 130 when SIGINT
(Ctrl-C) stops a replay (one line saying whether documents were written). Every
error is one line on stderr. Bad lines in a log are counted in the documents,
never fatal. A ``file://`` URL is its local path.

This module holds the parser and :func:`main`; the commands are in
:mod:`execution.intel.cli_commands`, what they print in
:mod:`execution.intel.cli_format`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from execution.intel.cli_commands import (
    DEFAULT_CONFIG,
    DEFAULT_STATE_DIR,
    EXIT_INTERRUPTED,
    CliError,
    ReplayInterruptedError,
    cmd_follow,
    cmd_merge,
    cmd_replay,
    cmd_show,
)


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
    except ReplayInterruptedError as exc:  # its own words, not an error
        print(exc, file=sys.stderr)
        return exc.code
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except KeyboardInterrupt:  # outside what a command guards (replay: cli_commands)
        print(f"{args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code
