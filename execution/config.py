"""Typed, validated configuration for the executor and the intel layer.

Each JSON file in ``config/`` decodes into a frozen ``msgspec.Struct``. A wrong
type, a missing field, an unknown field or an out-of-range value raises
:class:`ConfigError` with one line naming the file and the field:

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "risk_limits.json").write_text('{"max_open_positions": "8"}')
>>> try:
...     load_file(d / "risk_limits.json", RiskLimitsConfig)
... except ConfigError as exc:
...     print(str(exc).replace(str(d), "DIR"))
DIR/risk_limits.json: Expected `int`, got `str` - at `$.max_open_positions`
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import msgspec
from msgspec import Meta

PositiveFloat = Annotated[float, Meta(gt=0)]
NonNegFloat = Annotated[float, Meta(ge=0)]
Probability = Annotated[float, Meta(ge=0, le=1)]
PositiveInt = Annotated[int, Meta(gt=0)]

RouterPolicyName = Literal["maker_first", "taker_only"]
WINDOW_RE = re.compile(r"^(all|[1-9][0-9]*t|[1-9][0-9]*(\.[0-9]+)?[smhd])$")
WINDOW_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# a last-N window holds N events per group; a time window longer than the whole
# representable event-time range (ts < 253402300800) is the same as ``all``
MAX_WINDOW_TRADES = 1_000_000
MAX_WINDOW_SECONDS = 253_402_300_800.0


def window_problem(spec: str) -> str | None:
    """Why ``spec`` is not a usable window (``all``, ``<N>t``, ``<T>s|m|h|d``), or None.

    >>> window_problem("50t"), window_problem("7w") is not None, window_problem("2000000t")
    (None, True, "bad window '2000000t' (at most 1000000t)")
    """
    if not WINDOW_RE.match(spec):
        return f"bad window {spec!r} (use all, <N>t, or <T>s|m|h|d)"
    if spec.endswith("t") and int(spec[:-1]) > MAX_WINDOW_TRADES:
        return f"bad window {spec!r} (at most {MAX_WINDOW_TRADES}t)"
    if spec[-1] in WINDOW_UNITS and float(spec[:-1]) * WINDOW_UNITS[spec[-1]] > MAX_WINDOW_SECONDS:
        return f"bad window {spec!r} (at most {MAX_WINDOW_SECONDS:.0f}s: longer is all)"
    return None


SCORE_COMPONENTS = (
    "expectancy",
    "hit_rate",
    "slippage",
    "router_quality",
    "reject_rate",
    "liquidity",
    "volatility",
)


# The default weights (docs/score.md): R is net of costs, so the expectancy carries the
# ranking and the execution components adjust it.
SCORE_WEIGHTS = {
    "expectancy": 0.7,
    "hit_rate": 0.05,
    "slippage": 0.05,
    "router_quality": 0.1,
    "reject_rate": 0.05,
    "liquidity": 0.025,
    "volatility": 0.025,
}


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid (one-line message)."""


class _Strict(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


# --- strategy_config.json -------------------------------------------------------------


class StrategyParams(_Strict, frozen=True):
    router_policy: RouterPolicyName
    lookback_bars: Annotated[int, Meta(ge=2)]
    entry_z: PositiveFloat
    stop_sigmas: PositiveFloat
    target_r: PositiveFloat
    max_hold_bars: PositiveInt
    cooldown_bars: Annotated[int, Meta(ge=0)] = 0


class RouterConfig(_Strict, frozen=True):
    maker_timeout_ms: PositiveInt
    health_window_orders: PositiveInt
    policy_min_orders: PositiveInt
    taker_heavy_below_fill_rate: Probability
    taker_heavy_above_fallback_rate: Probability
    maker_first_above_fill_rate: Probability
    probe_every_orders: PositiveInt


class StrategyConfig(_Strict, frozen=True):
    nav_usd: PositiveFloat
    bar_seconds: PositiveInt
    risk_per_trade_pct: Annotated[float, Meta(gt=0, le=10)]
    publish_every_bars: PositiveInt
    strategies: dict[str, StrategyParams]
    router: RouterConfig


# --- strategy_registry.json -----------------------------------------------------------


class RegistryEntry(_Strict, frozen=True):
    name: str
    kind: Literal["trend_follow", "mean_revert"]
    enabled: bool = True
    description: str = ""


class StrategyRegistry(_Strict, frozen=True):
    strategies: list[RegistryEntry]


# --- risk_limits.json ------------------------------------------------------------------


class RiskLimitsConfig(_Strict, frozen=True):
    per_symbol_notional_cap_usd: PositiveFloat
    gross_exposure_cap_usd: PositiveFloat
    max_open_positions: PositiveInt
    daily_loss_limit_usd: PositiveFloat
    per_symbol_overrides: dict[str, PositiveFloat] = {}


# --- pairs_universe.json ---------------------------------------------------------------


class TierConfig(_Strict, frozen=True):
    max_symbols: PositiveInt
    max_notional_usd: PositiveFloat


class SymbolConfig(_Strict, frozen=True):
    tier: str
    tick_size: PositiveFloat
    lot_size: PositiveFloat
    adv_usd: NonNegFloat = 0.0


class PairsUniverse(_Strict, frozen=True):
    tiers: dict[str, TierConfig]
    symbols: dict[str, SymbolConfig]


# --- dry_run_market.json ---------------------------------------------------------------


class MarketSymbol(_Strict, frozen=True):
    price: PositiveFloat
    vol_bps_per_bar: PositiveFloat
    trend: Annotated[float, Meta(ge=0, le=1)]
    revert: Annotated[float, Meta(ge=0, lt=1)]
    spread_bps: NonNegFloat
    maker_fill_prob: Probability
    latency_ms_median: PositiveFloat
    reject_prob: Probability
    impact_bps: NonNegFloat


class MarketConfig(_Strict, frozen=True):
    start_ts: float
    symbols: dict[str, MarketSymbol]
    maker_fee_bps: float
    taker_fee_bps: float
    ack_loss_prob: Probability
    partial_fill_prob: Probability


# --- intel_v6.json ----------------------------------------------------------------------


class ScoreConfig(_Strict, frozen=True):
    """The symbol score's settings (docs/score.md): the window it reads, how many
    symbols ``top`` lists, the shrinkage of rates (``prior_trades``), the weights,
    which R figure the expectancy reads (``recent``: exponentially weighted and
    winsorised; ``robust``: winsorised; ``raw``: the plain mean, its size clipped)
    and the empirical-Bayes settings of the expectancy (score_components.EdgePolicy)."""

    window: str = "all"
    top_n: PositiveInt = 5
    prior_trades: PositiveInt = 20
    weights: dict[str, NonNegFloat] = msgspec.field(default_factory=lambda: dict(SCORE_WEIGHTS))
    expectancy_figure: Literal["recent", "robust", "raw"] = "recent"
    variance_prior_trades: NonNegFloat = 2.0
    min_r_sd: PositiveFloat = 0.1
    prior_sd_r: PositiveFloat = 0.25
    min_prior_sd_r: PositiveFloat = 0.05
    min_prior_symbols: Annotated[int, Meta(ge=2)] = 4
    # the expectancy component is tanh(posterior mean / (expectancy_scale·τ))
    expectancy_scale: PositiveFloat = 1.0
    # change detection (execution/intel/drift.py): the last-N window whose trades the
    # Page–Hinkley test reads (null: no test), its λ and δ in R, the trades between
    # alarms, and whether the expectancy then reads only the trades since the change
    drift_window: str | None = "50t"
    drift_threshold_r: PositiveFloat = 20.0
    drift_delta_r: NonNegFloat = 0.05
    drift_min_trades: PositiveInt = 10
    drift_discount: bool = False


class HistoryConfig(_Strict, frozen=True):
    """The snapshot history (docs/history.md): one record per symbol and window, and
    the fund totals, at every close of an event-time bucket of ``cadence_s``."""

    enabled: bool = True
    cadence_s: PositiveInt = 3600
    # the windows recorded; empty: every window of the engine
    windows: list[str] = msgspec.field(default_factory=list)
    # retention in event time: buckets older than the newest by more than
    # ``max_age_days``, and all but the newest ``max_buckets``, are dropped
    max_age_days: PositiveFloat = 400.0
    max_buckets: PositiveInt = 24 * 400
    file: str = "history_v6.sqlite"


class IntelConfig(_Strict, frozen=True):
    intel_enabled: bool = False
    # "process": the executor's tap runs the engine in its own process, which follows
    # the log (nothing on the loop's thread); "inline": bounded work on the loop's
    # thread at the throttle.
    hook: Literal["process", "inline"] = "process"
    windows: list[str] = msgspec.field(default_factory=lambda: ["all", "50t", "7d"])
    publish_interval_s: PositiveFloat = 5.0
    dd_penalty: NonNegFloat = 1.0
    scratch_epsilon_r: NonNegFloat = 0.05
    # duplicate event ids are rejected among the last this many accepted ids
    # (memory: about 100 bytes per id); a repeat from further back is applied
    dedup_horizon: PositiveInt = 100_000
    # distinct groups per grouping (symbols, strategies, policies, regimes); an
    # event that would open one more is rejected as too_many_groups
    max_groups: PositiveInt = 20_000
    # seconds a followed file that left its rotated set, or cannot be read, keeps its
    # position (and its descriptor is drained) before it counts as gone
    follow_grace_s: NonNegFloat = 300.0
    # seconds between follow's heartbeat lines on stderr (events, rejects, lag); 0: none
    heartbeat_s: NonNegFloat = 60.0
    score: ScoreConfig = msgspec.field(default_factory=ScoreConfig)
    history: HistoryConfig = msgspec.field(default_factory=HistoryConfig)


_T = TypeVar("_T")


def load_file(path: str | Path, kind: type[_T]) -> _T:
    """Decode and validate one config file; any problem is a one-line ConfigError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        try:  # the untyped value, to name the field; a number beyond float has none
            detail = _locate(msgspec.json.decode(raw), kind, "$") or _one_line(exc)
        except msgspec.DecodeError:
            detail = _one_line(exc)
        raise ConfigError(f"{path}: {detail}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({_one_line(exc)})") from None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _locate(value: Any, tp: Any, path: str) -> str | None:
    """The first validation error inside ``value``, with dict keys spelled out
    (msgspec writes ``[...]`` for a key of a dict-typed field)."""
    try:
        msgspec.convert(value, tp)
        return None
    except msgspec.ValidationError as exc:
        message = _one_line(exc)
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) is dict and isinstance(value, dict):
        for key, item in value.items():
            found = _locate(item, get_args(tp)[1], f"{path}.{key}")
            if found:
                return found
    elif isinstance(tp, type) and issubclass(tp, msgspec.Struct) and isinstance(value, dict):
        for name, field_tp in get_type_hints(tp, include_extras=True).items():
            if name in value:
                found = _locate(value[name], field_tp, f"{path}.{name}")
                if found:
                    return found
    if " - at `$" in message:
        return message.replace(" - at `$", f" - at `{path}", 1)
    return f"{message} - at `{path}`"


def validate_intel(cfg: IntelConfig, path: str | Path) -> IntelConfig:
    """Checks msgspec cannot express: window syntax and the score weight names."""
    for i, spec in enumerate(cfg.windows):
        problem = window_problem(spec)
        if problem:
            raise ConfigError(f"{path}: {problem} - at `$.windows[{i}]`")
    if not cfg.windows:
        raise ConfigError(f"{path}: at least one window is required - at `$.windows`")
    problem = window_problem(cfg.score.window)
    if problem:
        raise ConfigError(f"{path}: {problem} - at `$.score.window`")
    drift = cfg.score.drift_window
    if drift is not None and (window_problem(drift) or not drift.endswith("t")):
        raise ConfigError(
            f"{path}: bad drift window {drift!r} (use <N>t: the last N trades) "
            "- at `$.score.drift_window`"
        )
    for i, spec in enumerate(cfg.history.windows):
        problem = window_problem(spec)
        if problem:
            raise ConfigError(f"{path}: {problem} - at `$.history.windows[{i}]`")
    name = cfg.history.file
    if not name or "/" in name or name in (".", ".."):
        raise ConfigError(f"{path}: not a plain file name - at `$.history.file`")
    unknown = sorted(set(cfg.score.weights) - set(SCORE_COMPONENTS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown score component {unknown[0]!r} - at `$.score.weights` "
            f"(known: {', '.join(SCORE_COMPONENTS)})"
        )
    if sum(cfg.score.weights.values()) <= 0:
        raise ConfigError(f"{path}: score weights must not all be zero - at `$.score.weights`")
    return cfg


def load_intel_config(path: str | Path) -> IntelConfig:
    return validate_intel(load_file(path, IntelConfig), path)


@dataclass(frozen=True, slots=True)
class Config:
    """Every config file of the executor, validated and cross-checked."""

    strategy: StrategyConfig
    registry: StrategyRegistry
    risk: RiskLimitsConfig
    universe: PairsUniverse
    market: MarketConfig
    intel: IntelConfig
    directory: Path

    def enabled_strategies(self) -> list[tuple[RegistryEntry, StrategyParams]]:
        return [
            (e, self.strategy.strategies[e.name]) for e in self.registry.strategies if e.enabled
        ]


def load_config(directory: str | Path = "config") -> Config:
    """Load every file of a config directory and check the references between them."""
    directory = Path(directory)
    intel_path = directory / "intel_v6.json"
    cfg = Config(
        strategy=load_file(directory / "strategy_config.json", StrategyConfig),
        registry=load_file(directory / "strategy_registry.json", StrategyRegistry),
        risk=load_file(directory / "risk_limits.json", RiskLimitsConfig),
        universe=load_file(directory / "pairs_universe.json", PairsUniverse),
        market=load_file(directory / "dry_run_market.json", MarketConfig),
        intel=load_intel_config(intel_path) if intel_path.exists() else IntelConfig(),
        directory=directory,
    )
    _cross_check(cfg)
    return cfg


def _cross_check(cfg: Config) -> None:
    d = cfg.directory
    for i, entry in enumerate(cfg.registry.strategies):
        if entry.name not in cfg.strategy.strategies:
            raise ConfigError(
                f"{d / 'strategy_registry.json'}: strategy {entry.name!r} has no parameters "
                f"in strategy_config.json - at `$.strategies[{i}].name`"
            )
    tiers = cfg.universe.tiers
    for sym, sc in cfg.universe.symbols.items():
        if sc.tier not in tiers:
            raise ConfigError(
                f"{d / 'pairs_universe.json'}: unknown tier {sc.tier!r} - at `$.symbols.{sym}.tier`"
            )
    for sym in cfg.risk.per_symbol_overrides:
        _require_symbol(cfg.universe.symbols, sym, d / "risk_limits.json", "per_symbol_overrides")
    for sym in cfg.universe.symbols:
        if sym not in cfg.market.symbols:
            raise ConfigError(
                f"{d / 'dry_run_market.json'}: symbol {sym!r} of the universe has no market "
                f"model - at `$.symbols`"
            )


def _require_symbol(symbols: Mapping[str, object], sym: str, path: Path, field: str) -> None:
    if sym not in symbols:
        raise ConfigError(f"{path}: unknown symbol {sym!r} - at `$.{field}.{sym}`")
