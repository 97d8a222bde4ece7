"""An engine's state: saved as plain data, restored, and combined with another's.

:class:`EngineStateMixin` gives :class:`~execution.intel.engine.ExpectancyEngine`
what makes it a monoid that survives a restart: :meth:`~EngineStateMixin.to_state`
and :meth:`~EngineStateMixin.restore` (versioned, plain data; a state of other
windows, another policy or one that does not hold together is refused with an
:class:`EngineStateError` and leaves the engine as it was); :meth:`~EngineStateMixin.merge`
of an engine over the next part of a log, with :meth:`~EngineStateMixin.mergeable`
for its group limits and :meth:`~EngineStateMixin.forget` for the time-window
events no later document can show; and pickling (a replay's worker processes).
Feeding events and reading documents are in :mod:`execution.intel.engine`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from execution.intel.document import Inputs
from execution.intel.events import make_decoder
from execution.intel.folds import ORDER_INPUTS, TRADE_INPUTS
from execution.intel.groups import Groups
from streaming.recent_ids import RecentIds

if TYPE_CHECKING:
    from execution.intel.engine import ExpectancyEngine
    from execution.intel.events import Event
    from execution.intel.folds import FoldPolicy
    from execution.intel.lookback import Window
    from streaming.decode import LineDecoder
    from streaming.windows import WindowKind

STATE_VERSION: Final = 4  # 3: the winsorised and decayed R; 4: the executors grouping
# The policy fields a saved state depends on: a state is restored (or merged) only
# into an engine with the same ones.
STATE_POLICY: Final = ("scratch_epsilon_r", "dedup_horizon", "max_groups")


class EngineStateError(ValueError):
    """A saved engine state that does not fit this engine (other windows, policy)."""


class EngineStateMixin:
    """Saving, restoring and combining an :class:`~execution.intel.engine.ExpectancyEngine`
    (module docstring); the engine holds the attributes declared here."""

    if TYPE_CHECKING:
        __slots__: tuple[str, ...]  # the engine's
        windows: list[Window]
        policy: FoldPolicy
        decoder: LineDecoder[Event]
        groups: Groups
        _inputs: Inputs
        _pending: list[Event]
        _sides: list[tuple[WindowKind, WindowKind]]

        @property
        def inputs(self) -> Inputs: ...

        @property
        def max_groups(self) -> int: ...

        def _flush(self) -> None: ...

        def _fresh_sides(self) -> list[tuple[WindowKind, WindowKind]]: ...

    else:
        __slots__ = ()  # the engine declares every slot (and so has no __dict__)

    def _check_same(self, windows: Sequence[str], policy: Mapping[str, Any]) -> None:
        specs = [w.spec for w in self.windows]
        if list(windows) != specs:
            raise EngineStateError(f"state has windows {list(windows)}, the configuration {specs}")
        # what the state depends on (dd_penalty only weighs a published figure)
        mine = {k: getattr(self.policy, k) for k in STATE_POLICY}
        theirs = {k: policy.get(k) for k in STATE_POLICY}
        if theirs != mine:
            differ = {k: (theirs[k], mine[k]) for k in STATE_POLICY if theirs[k] != mine[k]}
            raise EngineStateError(
                "state has another policy: "
                + ", ".join(f"{k} {a!r} (the configuration {b!r})" for k, (a, b) in differ.items())
            )

    def merge(self, other: ExpectancyEngine) -> None:
        """Absorb another engine's input, which came after this one's (so engines over
        consecutive parts of a log fold in parallel and combine in order). Duplicate
        ids *across* the two are not looked for: the caller makes sure the other
        decided its first ids as this one's recent ids would have, as
        :func:`~execution.intel.runner.replay` does."""
        self._check_same([w.spec for w in other.windows], dataclasses.asdict(other.policy))
        self._flush()
        other._flush()
        self._inputs.merge(other._inputs)
        self.decoder.recent.merge(other.decoder.recent)
        remap = self.groups.remap(other.groups)
        for mine, theirs in zip(self._sides, other._sides, strict=True):
            for side in (0, 1):
                mine[side].merge(theirs[side], remap, self.groups.total)  # type: ignore[arg-type]

    def mergeable(self, other: ExpectancyEngine) -> bool:
        """Whether :meth:`merge` of ``other`` equals feeding its input after this one's
        as far as group limits go: it rejected no event for a group limit, and its
        groups fit with this one's under ``max_groups`` in every grouping."""
        self._flush()  # pending events' groups count
        if other.inputs.rejected.get("too_many_groups", 0):
            return False
        return all(
            len(mine) + len(set(theirs) - mine.keys()) <= self.max_groups
            for mine, theirs in zip(self.groups.ids, other.groups.names, strict=True)
        )

    def forget(self, watermark: float) -> None:
        """Drop time-window events that no document at ``watermark`` or later can
        show: for an engine over an early part of a log that is known to reach at
        least that event time, before its state travels to the merge."""
        self._flush()
        for pair in self._sides:
            for w in pair:
                w.forget(watermark)

    @property
    def recent_ids(self) -> RecentIds:
        """The ids within the de-duplication horizon."""
        return self.decoder.recent

    def __getstate__(self) -> dict[str, Any]:
        self._flush()
        state = {name: getattr(self, name) for name in self.__slots__ if name != "decoder"}
        return {**state, "recent": self.decoder.recent}

    def __setstate__(self, state: dict[str, Any]) -> None:
        recent: RecentIds = state.pop("recent")
        for name, value in state.items():
            setattr(self, name, value)
        self.decoder = make_decoder(recent.horizon)
        self.decoder.recent = recent

    def to_state(self) -> dict[str, Any]:
        self._flush()
        return {
            "version": STATE_VERSION,
            "windows": [w.spec for w in self.windows],
            "policy": dataclasses.asdict(self.policy),
            "inputs": self._inputs.to_state(),
            "recent_ids": self.decoder.recent.to_state(),
            "groups": self.groups.to_state(),
            "surfaces": [{"trades": t.to_state(), "orders": o.to_state()} for t, o in self._sides],
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`to_state` output of an engine with the same windows
        and policy; anything else — another version, windows or policy, or a state
        that does not hold together — is an :class:`EngineStateError`, and the
        engine is left as it was."""
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            version = state.get("version") if isinstance(state, Mapping) else None
            raise EngineStateError(
                f"engine state version {version!r} is not supported "
                f"(this engine reads version {STATE_VERSION}; replay the log to rebuild it)"
            )
        try:
            self._check_same(state["windows"], state["policy"])
            inputs = Inputs.from_state(state["inputs"])
            recent = RecentIds.from_state(state["recent_ids"])
            if recent.horizon != self.policy.dedup_horizon:
                raise ValueError(f"recent ids over a horizon of {recent.horizon}")
            groups = Groups(self.max_groups, state["groups"]["names"], state["groups"]["ids"])
            sides = self._fresh_sides()
            for (t, o), s in zip(sides, state["surfaces"], strict=True):
                for w, saved, names in (
                    (t, s["trades"], TRADE_INPUTS),
                    (o, s["orders"], ORDER_INPUTS),
                ):
                    w.restore(saved)
                    w.check(names, groups.total, inputs.watermark)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise EngineStateError(f"engine state is damaged: {exc}") from None
        self._inputs, self.groups, self._sides, self._pending = inputs, groups, sides, []
        self.decoder.recent = recent
