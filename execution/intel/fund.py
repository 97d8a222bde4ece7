"""Saved fund states and their exact merge (``merge DIR... --state-dir OUT``).

A state saved by ``replay --save-state`` (:func:`save_state`) is the engine state
with what an exact merge needs besides: the configuration it was built with, its
sources, the smallest and largest key of its events (the contract order's key,
:mod:`execution.intel.cluster`) and the head of its de-duplication — the ids it
offered to the recent ids, and which were duplicates, up to its ``horizon``-th
addition (:class:`~streaming.recent_ids.IdTrace`).

An engine state holds folds, not events, so states can be merged only where the
contract order puts all of one state's events before all of the next one's:
:func:`merge_states` orders the states by their keys and merges them when

* the key ranges do not overlap (at an equal key, the state given first is first);
* each state's head decides alike after the recent ids of the states before it
  (no duplicate across the states that one pass would have rejected);
* the groups fit under ``max_groups`` (:meth:`ExpectancyEngine.mergeable`);
* every state was built with the same windows and policy as the configuration.

Anything else is a :class:`FundStateError` naming the state and the reason, and
nothing is published: replay the logs together instead. A follower's checkpoint
carries no keys or head and is refused as such.

The file is checksummed as a checkpoint is (:mod:`streaming.checkpoint`: a header
line with the payload's length and SHA-256), its keys must agree with the engine
state inside (no keys exactly when no event; the watermark between them), and it
records the digest of the expectancy document published with it: a state whose
directory has since received other documents (a replay without ``--save-state``)
is stale and refused. It is written *before* the documents, so a state that
cannot be written publishes nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec

from execution.config import IntelConfig
from execution.intel.expectancy_v6 import EngineStateError, ExpectancyEngine
from execution.intel.publisher import Publisher
from execution.intel.replay_parts import head_agrees
from execution.state_publish import EXPECTANCY_FILE, publish_intel, read_state
from streaming.atomic import atomic_write_bytes
from streaming.checkpoint import decode_checkpoint, encode_checkpoint
from streaming.inputs import as_text
from streaming.recent_ids import IdTrace

FUND_STATE_FILE: Final = "expectancy_v6.fund-state.json"
FUND_STATE_FORMAT: Final = "expectancy_v6-fund-state"
FUND_STATE_VERSION: Final = 2


class FundStateError(ValueError):
    """A state that is missing, damaged, of another configuration, or that cannot be
    merged exactly with the others."""


@dataclass(slots=True)
class FundState:
    where: Path
    engine: ExpectancyEngine
    sources: list[str]
    keys: tuple[float, float] | None
    head: IdTrace


def config_of(engine: ExpectancyEngine) -> dict[str, Any]:
    """What a state depends on: its windows and its whole fold policy."""
    return {
        "windows": [w.spec for w in engine.windows],
        "policy": dataclasses.asdict(engine.policy),
    }


def head_state(head: IdTrace) -> dict[str, Any]:
    return {"limit": head.limit, "ids": head.ids, "dups": head.dups}


def head_from(state: Mapping[str, Any]) -> IdTrace:
    head = IdTrace(int(state["limit"]))
    head.note([str(k) for k in state["ids"]], [int(i) for i in state["dups"]])
    return head


def documents_digest(expectancy: Mapping[str, Any]) -> str:
    """SHA-256 of the expectancy document as JSON reads it back, keys sorted."""
    canonical = msgspec.json.decode(msgspec.json.encode(expectancy))
    return hashlib.sha256(msgspec.json.encode(canonical, order="sorted")).hexdigest()


def save_state(
    state_dir: str | Path,
    engine: ExpectancyEngine,
    *,
    sources: Sequence[str],
    keys: tuple[float, float] | None,
    head: IdTrace,
    documents: Mapping[str, Any],
) -> Path:
    """Write the fund state atomically to ``state_dir``, tied to the expectancy
    document ``documents`` (to be published beside it); returns its path. A
    :class:`FundStateError` when it cannot be written."""
    doc = {
        "format": FUND_STATE_FORMAT,
        "version": FUND_STATE_VERSION,
        "config": config_of(engine),
        "sources": [as_text(s) for s in sources],
        "keys": None if keys is None else list(keys),
        "head": head_state(head),
        "documents": documents_digest(documents),
        "engine": engine.to_state(),
    }
    path = Path(state_dir) / FUND_STATE_FILE
    try:
        atomic_write_bytes(path, encode_checkpoint(doc, 0))
    except OSError as exc:
        why = exc.strerror or exc
        raise FundStateError(f"{path}: cannot write the fund state: {why}") from None
    except ValueError as exc:  # a figure that is not finite
        raise FundStateError(f"{path}: cannot write the fund state: {exc}") from None
    return path


def publish_with_state(
    state_dir: str | Path,
    engine: ExpectancyEngine,
    documents: tuple[dict[str, Any], dict[str, Any]],
    *,
    sources: Sequence[str],
    keys: tuple[float, float] | None,
    head: IdTrace,
) -> None:
    """The fund state first, then the documents: a state that cannot be written
    publishes nothing."""
    expectancy, scores = documents
    save_state(state_dir, engine, sources=sources, keys=keys, head=head, documents=expectancy)
    publish_intel(state_dir, expectancy, scores)


def _read(where: Path) -> Mapping[str, Any]:
    path = where / FUND_STATE_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FundStateError(
            f"{where}: no {FUND_STATE_FILE} (write one with replay --save-state; "
            "a follower's checkpoint cannot be merged exactly)"
        ) from None
    except OSError as exc:
        raise FundStateError(f"{path}: {exc.strerror or exc}") from None
    try:
        doc, _ = decode_checkpoint(data)
    except ValueError as exc:
        raise FundStateError(f"{path}: damaged fund state ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FUND_STATE_FORMAT:
        raise FundStateError(f"{path}: not a fund state")
    if doc.get("version") != FUND_STATE_VERSION:
        raise FundStateError(f"{path}: fund state version {doc.get('version')!r} not supported")
    published = read_state(where, EXPECTANCY_FILE)
    if published is None or documents_digest(published) != doc.get("documents"):
        raise FundStateError(
            f"{where}: its fund state is stale: {EXPECTANCY_FILE} there is "
            f"{'missing' if published is None else 'from another replay'} "
            "(published without --save-state?); replay with --save-state again"
        )
    return doc


def _keys_agree(keys: tuple[float, float] | None, engine: ExpectancyEngine) -> bool:
    """No keys exactly when the engine saw no event; else the watermark (the largest
    ``ts`` applied) lies between the smallest and the largest key."""
    wm: float | None = engine.to_state()["inputs"]["watermark"]
    if keys is None or wm is None:
        return keys is None and wm is None
    return keys[0] <= wm <= keys[1]


def load_state(
    state_dir: str | Path, cfg: IntelConfig, windows: Iterable[str] | None = None
) -> FundState:
    """The fund state in ``state_dir``, restored into an engine of the configuration;
    a damaged or stale state, or one of another configuration, is refused."""
    where = Path(state_dir)
    path = where / FUND_STATE_FILE
    doc = _read(where)
    engine = ExpectancyEngine.from_config(cfg, windows)
    mine, theirs = config_of(engine), doc.get("config")
    if theirs != mine:
        raise FundStateError(f"{where}: built with another configuration: {_differ(theirs, mine)}")
    try:
        engine.restore(doc["engine"])
        got = doc["keys"]
        keys = None if got is None else (float(got[0]), float(got[1]))
        if not _keys_agree(keys, engine):
            raise ValueError(f"keys {got!r} disagree with the engine state")
        return FundState(
            where, engine, [str(s) for s in doc["sources"]], keys, head_from(doc["head"])
        )
    except EngineStateError as exc:
        raise FundStateError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise FundStateError(f"{path}: damaged fund state ({exc})") from None


def _differ(theirs: Any, mine: Mapping[str, Any]) -> str:
    if not isinstance(theirs, Mapping):
        return "no configuration recorded"
    out = []
    if theirs.get("windows") != mine["windows"]:
        out.append(f"windows {theirs.get('windows')} (the configuration {mine['windows']})")
    got = theirs.get("policy")
    policy: Mapping[str, Any] = got if isinstance(got, Mapping) else {}
    for k, v in mine["policy"].items():
        if policy.get(k) != v:
            out.append(f"{k} {policy.get(k)!r} (the configuration {v!r})")
    return ", ".join(out) or "differs"


def _refuse_repeats(states: Sequence[FundState]) -> None:
    """Refuse a state given twice, or two saved from the same sources with the
    same engine state (one log replayed twice): merging would count its input
    twice where a replay of the two reads it once. States with events already
    overlap in key; this catches those whose lines all gave no event."""
    seen: dict[tuple[str, ...], list[tuple[FundState, dict[str, Any]]]] = {}
    for s in states:
        state = s.engine.to_state()
        for other, theirs in seen.get(tuple(s.sources), []):
            if theirs == state:
                raise FundStateError(
                    f"{other.where} and {s.where} hold the same input (the same sources, "
                    "the same state): merging would count it twice; give it once"
                )
        seen.setdefault(tuple(s.sources), []).append((s, state))


def merge_order(states: Sequence[FundState]) -> list[FundState]:
    """The states in the contract order of their events; a :class:`FundStateError`
    when two overlap in key (their events interleave in that order)."""
    ranked = sorted(
        (i for i, s in enumerate(states) if s.keys is not None),
        key=lambda i: (states[i].keys, i),
    )
    for a, b in itertools.pairwise(ranked):
        ka, kb = states[a].keys, states[b].keys
        assert ka is not None and kb is not None
        if ka[1] > kb[0] or (ka[1] == kb[0] and a > b):
            raise FundStateError(
                f"{states[a].where} and {states[b].where} overlap in event time "
                f"({ka[0]!r}..{ka[1]!r} and {kb[0]!r}..{kb[1]!r}): their events interleave, "
                "which folded states cannot reproduce; replay their logs together"
            )
    empty = [s for s in states if s.keys is None]
    return [*(states[i] for i in ranked), *empty]


def merge_states(
    dirs: Sequence[str | Path],
    cfg: IntelConfig,
    *,
    state_dir: str | Path,
    windows: Iterable[str] | None = None,
    publish: bool = True,
) -> tuple[dict[str, Any], dict[str, Any], FundState]:
    """Merge the fund states of ``dirs`` exactly (module docstring), publish the
    documents to ``state_dir`` and save the merged fund state there."""
    specs = list(windows) if windows else None
    states = [load_state(d, cfg, specs) for d in dirs]
    _refuse_repeats(states)
    ordered = merge_order(states)
    total = ordered[0]
    horizon = total.engine.recent_ids.horizon
    head = IdTrace(horizon)
    head.note(total.head.ids, total.head.dups)
    for nxt in ordered[1:]:
        if not head_agrees(total.engine.recent_ids, nxt.head):
            raise FundStateError(
                f"{nxt.where}: ids of its first events are duplicates of ids in "
                f"{', '.join(str(s.where) for s in ordered if s is not nxt)} within the "
                "de-duplication horizon; replay their logs together"
            )
        if not total.engine.mergeable(nxt.engine):
            raise FundStateError(
                f"{nxt.where}: the merged groups would exceed max_groups "
                f"{total.engine.max_groups}; replay the logs together"
            )
        total.engine.merge(nxt.engine)
        head.note(nxt.head.ids, nxt.head.dups)
    keys = [s.keys for s in ordered if s.keys is not None]
    span = (min(k[0] for k in keys), max(k[1] for k in keys)) if keys else None
    merged = FundState(
        Path(state_dir),
        total.engine,
        [src for s in states for src in s.sources],
        span,
        head,
    )
    expectancy, scores = Publisher(Path(state_dir), cfg.score).documents(merged.engine)
    if publish:
        publish_with_state(
            state_dir, merged.engine, (expectancy, scores), sources=merged.sources, keys=span,
            head=head,
        )  # fmt: skip
    return expectancy, scores, merged
