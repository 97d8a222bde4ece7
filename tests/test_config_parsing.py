"""Config files decode into typed values; every problem is one line naming file and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from execution.config import (
    ConfigError,
    IntelConfig,
    RiskLimitsConfig,
    load_config,
    load_file,
    load_intel_config,
)
from tests.support import ROOT, copy_config, edit_json


def test_repository_config_loads(cfg):
    """The shipped config is valid and cross-consistent."""
    assert cfg.strategy.nav_usd > 0
    assert {e.name for e, _ in cfg.enabled_strategies()} == {"trend_follow", "mean_revert"}
    assert set(cfg.universe.symbols) <= set(cfg.market.symbols)
    assert len(cfg.universe.symbols) == 20
    assert cfg.intel.intel_enabled is False
    assert cfg.intel.windows == ["all", "50t", "7d"]


def _bad(tmp_path: Path, name: str, edit) -> str:
    d = copy_config(tmp_path / "config")
    edit_json(d / name, edit)
    with pytest.raises(ConfigError) as info:
        load_config(d)
    msg = str(info.value)
    assert "\n" not in msg
    assert name in msg
    return msg


def test_wrong_type_names_file_and_field(tmp_path):
    """A string where an int belongs is reported with its JSON path."""
    msg = _bad(tmp_path, "risk_limits.json", lambda d: d.update(max_open_positions="8"))
    assert "$.max_open_positions" in msg and "Expected `int`" in msg


def test_missing_field_is_named(tmp_path):
    msg = _bad(tmp_path, "strategy_config.json", lambda d: d["router"].pop("maker_timeout_ms"))
    assert "maker_timeout_ms" in msg and "$.router" in msg


def test_unknown_field_is_rejected(tmp_path):
    """A typo in a field name is an error, not a silently ignored setting."""
    msg = _bad(tmp_path, "risk_limits.json", lambda d: d.update(max_open_positons=3))
    assert "max_open_positons" in msg


def test_out_of_range_value(tmp_path):
    msg = _bad(
        tmp_path,
        "dry_run_market.json",
        lambda d: d["symbols"]["BTCUSDT"].update(maker_fill_prob=1.5),
    )
    assert "$.symbols.BTCUSDT.maker_fill_prob" in msg


def test_bad_router_policy_name(tmp_path):
    msg = _bad(
        tmp_path,
        "strategy_config.json",
        lambda d: d["strategies"]["trend_follow"].update(router_policy="yolo"),
    )
    assert "$.strategies.trend_follow.router_policy" in msg


def test_unknown_tier_is_a_cross_reference_error(tmp_path):
    msg = _bad(tmp_path, "pairs_universe.json", lambda d: d["symbols"]["BTCUSDT"].update(tier="X"))
    assert "$.symbols.BTCUSDT.tier" in msg


def test_registry_strategy_without_parameters(tmp_path):
    def edit(d):
        d["strategies"].append({"name": "ghost", "kind": "trend_follow"})

    msg = _bad(tmp_path, "strategy_registry.json", edit)
    assert "'ghost'" in msg


def test_risk_override_for_unknown_symbol(tmp_path):
    msg = _bad(
        tmp_path, "risk_limits.json", lambda d: d["per_symbol_overrides"].update(NOPEUSDT=1.0)
    )
    assert "NOPEUSDT" in msg


def test_not_json(tmp_path):
    p = tmp_path / "risk_limits.json"
    p.write_text("{nope")
    with pytest.raises(ConfigError, match=r"risk_limits\.json: not valid JSON"):
        load_file(p, RiskLimitsConfig)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path)


def test_intel_defaults_when_file_absent(tmp_path):
    d = copy_config(tmp_path / "config")
    (d / "intel_v6.json").unlink()
    assert load_config(d).intel == IntelConfig()


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: d.update(windows=["all", "7x"]), "$.windows[1]"),
        (lambda d: d.update(windows=[]), "$.windows"),
        (lambda d: d["score"].update(window="0t"), "$.score.window"),
        (lambda d: d["score"].update(drift_window="7d"), "$.score.drift_window"),
        (lambda d: d["score"].update(expectancy_figure="best"), "$.score.expectancy_figure"),
        (lambda d: d["score"]["weights"].update(luck=1.0), "'luck'"),
        (lambda d: d["score"].update(weights=dict.fromkeys(["expectancy"], 0.0)), "all be zero"),
        (lambda d: d.update(intel_enabled="yes"), "$.intel_enabled"),
    ],
)
def test_intel_settings_validated(tmp_path, edit, fragment):
    p = copy_config(tmp_path / "c") / "intel_v6.json"
    edit_json(p, edit)
    with pytest.raises(ConfigError) as info:
        load_intel_config(p)
    assert fragment in str(info.value)
    assert "intel_v6.json" in str(info.value)


def test_cli_reports_bad_config_in_one_line(tmp_path):
    """The executor's command line turns a bad config into one line and exit code 2."""
    d = copy_config(tmp_path / "config")
    edit_json(d / "risk_limits.json", lambda x: x.update(daily_loss_limit_usd=-5))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "execution.executor_live",
            "--dry-run",
            "--config",
            str(d),
            "--out",
            str(tmp_path / "out"),
            "--sim-hours",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "risk_limits.json" in lines[0] and "$.daily_loss_limit_usd" in lines[0]


def test_a_number_beyond_float_in_a_config_is_a_one_line_error(tmp_path):
    """``1e400`` in a typed float field: a ConfigError naming the file, never the
    decoder's traceback (it has no value to locate the field by)."""
    path = tmp_path / "intel.json"
    path.write_text('{"history": {"max_age_days": 1e400}}')
    with pytest.raises(ConfigError) as err:
        load_intel_config(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
