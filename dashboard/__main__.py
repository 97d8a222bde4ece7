"""``python -m dashboard [--state-dir DIR] [--port N] [--stale-after S]``: the
dashboard served on 127.0.0.1 only, from whatever folder it is started (the
repository's ``.streamlit/config.toml`` is read only when the current folder is the
repository; this launcher sets the address itself)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streamlit.web import cli

ADDRESS = "127.0.0.1"


def command(argv: list[str]) -> list[str]:
    """The ``streamlit run`` command line for ``argv``."""
    parser = argparse.ArgumentParser(prog="python -m dashboard")
    parser.add_argument("--port", type=int, default=8501)
    args, rest = parser.parse_known_args(argv)
    app = Path(__file__).resolve().with_name("app.py")
    return [
        "streamlit", "run", str(app),
        "--server.address", ADDRESS, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--", *rest,
    ]  # fmt: skip


def main() -> None:
    sys.argv = command(sys.argv[1:])
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
