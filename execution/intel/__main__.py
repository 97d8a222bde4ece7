"""``python -m execution.intel``: see :mod:`execution.intel.cli`."""

from execution.intel.cli import main

raise SystemExit(main())
