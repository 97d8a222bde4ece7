"""Shared fixtures and the Hypothesis profiles (``HYPOTHESIS_PROFILE=quick|ci|explore``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from execution.config import Config, load_config
from execution.executor_live import DryRunExecutor
from tests.support import CONFIG_DIR

settings.register_profile("quick", max_examples=50, deadline=None)
# CI draws the same examples on every run (derandomize: a seed from each test), so a
# submission's result does not depend on the luck of the draw; development runs
# ("quick", or "explore": the CI budget, randomly drawn) keep searching for new cases.
settings.register_profile(
    "ci",
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


@pytest.fixture(scope="session")
def cfg() -> Config:
    return load_config(CONFIG_DIR)


@pytest.fixture(scope="session")
def dry_run_dir(tmp_path_factory: pytest.TempPathFactory, cfg: Config) -> Path:
    """One simulated day of the dry-run executor, shared by read-only tests."""
    out = tmp_path_factory.mktemp("dry_run")
    DryRunExecutor(cfg, seed=11, out_dir=out).run(bars=24 * 3600 // cfg.strategy.bar_seconds)
    return out


@pytest.fixture(scope="session")
def dry_run_events(dry_run_dir: Path) -> list[dict]:
    path = dry_run_dir / "execution" / "router_metrics.jsonl"
    return [json.loads(line) for line in path.read_bytes().splitlines()]
