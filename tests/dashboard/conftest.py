"""State directories for the dashboard tests, built by the real producers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import msgspec
import pytest

from execution.config import load_intel_config
from execution.executor_live import DryRunExecutor
from execution.intel.runner import replay
from tests.support import CONFIG_DIR, ROOT

SAMPLE = ROOT / "logs" / "samples" / "router_metrics.jsonl.gz"


@pytest.fixture(scope="session")
def sample_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The intel documents and the history of the embedded sample log."""
    state = tmp_path_factory.mktemp("sample_state")
    cfg = load_intel_config(CONFIG_DIR / "intel_v6.json")
    replay([SAMPLE], cfg, state_dir=state, history=True)
    return state


@pytest.fixture(scope="session")
def full_state(tmp_path_factory: pytest.TempPathFactory, cfg) -> Path:
    """Executor state and intel documents of a 12-hour dry run with intel on."""
    out = tmp_path_factory.mktemp("full_state")
    on = dataclasses.replace(cfg, intel=msgspec.structs.replace(cfg.intel, intel_enabled=True))
    DryRunExecutor(on, seed=7, out_dir=out).run(bars=144)
    return out / "state"
