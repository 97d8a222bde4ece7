"""Publishing: an engine's two documents, built and written atomically.

One idea: :class:`Publisher` turns an engine into the expectancy document and the
symbol scores (reading the router-health document beside them and the engine's
drift), stamps both with what produced them (``replay``, complete, or ``follow``,
live), and writes them together through :mod:`execution.state_publish`. A replay,
the follow runner, the executor's tap and a fund replay all publish through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from execution.config import ScoreConfig
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.symbol_score_v6 import drift_of, score_symbols
from execution.state_publish import publish_intel, read_state

ROUTER_HEALTH_FILE = "router_health.json"


@dataclass(slots=True)
class Publisher:
    """Builds both documents from an engine and writes them atomically."""

    state_dir: Path
    score: ScoreConfig
    wall: Callable[[], float] = time.time
    # what produced the documents: "replay" (complete: the whole log was read) or
    # "follow" (live; never complete), written into both as ``source``
    mode: str = "replay"

    def documents(self, engine: ExpectancyEngine) -> tuple[dict[str, Any], dict[str, Any]]:
        now = self.wall()
        expectancy = engine.document(generated_at=now)
        health = read_state(self.state_dir, ROUTER_HEALTH_FILE)
        drift = drift_of(engine, self.score)
        scores = score_symbols(expectancy, health, config=self.score, generated_at=now, drift=drift)
        source = {"mode": self.mode, "complete": self.mode == "replay"}
        expectancy["source"] = source
        scores["source"] = dict(source)
        return expectancy, scores

    def publish(self, engine: ExpectancyEngine) -> tuple[dict[str, Any], dict[str, Any]]:
        expectancy, scores = self.documents(engine)
        publish_intel(self.state_dir, expectancy, scores)
        return expectancy, scores
