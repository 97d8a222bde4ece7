"""Fund replay: the logs of many executors into one document, in one process or on
a Dask cluster (``docs/scale-out.md``).

The contract: the documents equal those of one engine fed every valid event of
every source in the *contract order* — each source's events in its file order,
the sources merged by event time, ties going to the source given first. An event
is placed by its *key*, the largest ``ts`` of its source up to and including it
(a late line stays behind the lines before it in its own file), then by its
source's index, then by its place in the source: for sources written in time
order the key is the event's ``ts``, and for one source the order is its file
order, as in :func:`~execution.intel.runner.replay`.

How: the parts of the input (:mod:`execution.intel.sources`) are decoded where
they are read — by Dask workers with ``cluster``, else here — into the columns
of their valid events; this process orders them by (key, source, position) as
they become final (:class:`~execution.intel.ordered.OrderedFold`) and folds them
through the engine's own path, batch by batch (:mod:`execution.intel.columnar`):
de-duplication over the horizon of recent ids, ``max_groups`` admission in order
of first sight, every window. Nothing that depends on the order runs on a worker,
so the result does not depend on how the input was cut or where a part ran, and
a part a dead worker had read is simply read again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from execution.config import IntelConfig
from execution.intel import fund
from execution.intel.cluster_connect import (
    POLL_S,
    WAIT_WORKERS_S,
    ClusterError,
    ClusterWatch,
    connect,
    distributed,
    error_line,
)
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.ordered import OrderedFold
from execution.intel.publisher import Publisher
from execution.intel.sources import (
    PART_BYTES,
    Part,
    PartEvents,
    Source,
    list_sources,
    plan_parts,
    read_part,
)
from execution.state_publish import publish_intel
from streaming.recent_ids import IdTrace

# Events per engine batch of the ordered fold.
FOLD_BATCH = 1 << 18


def fold_ordered(
    engine: ExpectancyEngine,
    parts: Sequence[Part],
    read: Sequence[PartEvents],
    batch: int = FOLD_BATCH,
    arrival: Sequence[int] | None = None,
) -> IdTrace:
    """Fold the parts' events into ``engine`` in the contract order, the parts
    arriving in the order ``arrival`` (default: as planned), and add their reject
    counts. Returns the trace of the first ``horizon`` de-duplication decisions
    (what :mod:`execution.intel.fund` needs to merge the result)."""
    fold = OrderedFold(engine, parts, batch)
    for k in range(len(parts)) if arrival is None else arrival:
        fold.add(k, read[k])
    return fold.finish()


# --- reading the parts ----------------------------------------------------------------------


class ClusterProgress:
    """Parts done of the total, bytes, events and events per second, on ``stream``:
    rewritten in place on a terminal (and left at the end), else a line every
    ``every`` seconds while parts complete."""

    def __init__(self, total: int, size: int, stream: TextIO, every: float = 2.0) -> None:
        self.total, self.size, self.stream = total, size, stream
        self.tty = stream.isatty()
        self.every = 0.5 if self.tty else every
        self.started = self.last = time.perf_counter()
        self.parts = self.bytes = self.events = 0

    def __call__(self, part: Part, read: PartEvents) -> None:
        self.parts += 1
        self.bytes += part.size
        self.events += read.count
        now = time.perf_counter()
        if now - self.last >= self.every or (self.tty and self.parts == self.total):
            self.last = now
            rate = self.events / max(now - self.started, 1e-9)
            line = (
                f"parts {self.parts}/{self.total}, {self.bytes / 1e6:,.1f}/"
                f"{self.size / 1e6:,.1f} MB, {self.events:,} events ({rate:,.0f} events/s)"
            )
            self.stream.write(f"\r{line}\x1b[K" if self.tty else f"{line}\n")
            if self.tty and self.parts == self.total:
                self.stream.write("\n")
            self.stream.flush()


def read_local(
    parts: Sequence[Part],
    fold: OrderedFold,
    on_part: Callable[[Part, PartEvents], None] | None = None,
) -> None:
    """Every part read in this process, in the order the fold asks for."""
    while (k := fold.next_part()) is not None:
        got = read_part(parts[k])
        fold.add(k, got)
        if on_part is not None:
            on_part(parts[k], got)


def read_on_cluster(
    client: Any,
    parts: Sequence[Part],
    fold: OrderedFold,
    on_part: Callable[[Part, PartEvents], None] | None = None,
    on_submit: Callable[[Any, list[Any]], None] | None = None,
    *,
    patience: float = WAIT_WORKERS_S,
) -> None:
    """Every part read by the cluster's workers (each opens its input itself) and
    handed to the fold as it comes back; at most two parts per worker thread are
    out at once, the next one chosen by the fold. A task whose worker dies is run
    again by Dask; an input error cancels the rest and is raised here; a lost
    scheduler, or no worker for ``patience`` seconds, is a :class:`ClusterError`
    (:class:`ClusterWatch`)."""
    ahead = max(2, 2 * sum(client.nthreads().values()))
    done = distributed().as_completed(with_results=True)
    watch = ClusterWatch(client, patience)
    where: dict[str, int] = {}
    out: list[Any] = []

    def submit() -> None:
        k = fold.next_part()
        if k is not None:
            future = client.submit(read_part, parts[k], pure=False)
            where[future.key] = k
            out.append(future)
            done.add(future)

    try:
        for _ in range(ahead):
            submit()
        if on_submit is not None:
            on_submit(client, list(out))
        while not done.is_empty():
            if not done.has_ready():
                watch.check()
                time.sleep(POLL_S)
                continue
            future, got = next(done)
            if future.status == "cancelled":
                raise watch.cancelled(got)
            watch.heard_from()
            k = where.pop(future.key)
            fold.add(k, got)
            if on_part is not None:
                on_part(parts[k], got)
            submit()
    except ClusterError:
        raise  # the cluster is gone: nothing to cancel there
    except distributed().KilledWorker as exc:
        client.cancel(out)
        raise ClusterError(
            f"workers died reading a part, too often to retry it: {error_line(exc)}"
        ) from None
    except BaseException:
        client.cancel(out)
        raise


@dataclass(slots=True)
class FundResult:
    expectancy: dict[str, Any]
    scores: dict[str, Any]
    sources: list[Source]
    parts: int
    lines: int
    seconds: float
    engine: ExpectancyEngine
    head: IdTrace
    keys: tuple[float, float] | None  # the smallest and largest key (None: no event)
    how: str = "one process"
    read_s: float = 0.0  # from the start until the last part was read
    fold_s: float = 0.0  # spent in the ordered fold (most of it while parts were read)
    tail_s: float = 0.0  # the fold after the last part was read
    held: int = 0  # the most events held unfolded at once


def replay_sources(
    paths: Iterable[str],
    cfg: IntelConfig,
    *,
    state_dir: str | Path,
    windows: Iterable[str] | None = None,
    rotated: bool = True,
    cluster: str | Any | None = None,
    part_bytes: int = PART_BYTES,
    publish: bool = True,
    progress: TextIO | None = None,
    wall: Callable[[], float] = time.time,
    on_submit: Callable[[Any, list[Any]], None] | None = None,
    save_state: bool = False,
    wait_workers: float = WAIT_WORKERS_S,
) -> FundResult:
    """Replay the sources of ``paths`` into one engine in the contract order (module
    docstring) and publish once. ``cluster``: None (read here), a ``--cluster``
    value, or a ``distributed.Client``. Every source is listed before any work,
    parts are folded as they become final (:class:`OrderedFold`), and the
    documents are published only once every part was read: a missing or
    unreadable source is an :class:`~streaming.inputs.InputError` naming it, and
    nothing is published.
    With ``save_state`` the fund state for a later merge is written there too
    (:func:`execution.intel.fund.save_state`)."""
    started = time.perf_counter()
    sources = list_sources(list(paths), rotated=rotated)
    parts = plan_parts(sources, part_bytes)
    size = sum(p.size for p in parts)
    report = ClusterProgress(len(parts), size, progress) if progress is not None else None
    engine = ExpectancyEngine.from_config(cfg, windows)
    fold = OrderedFold(engine, parts)
    if cluster is None:
        read_local(parts, fold, report)
        how = "one process"
    elif isinstance(cluster, str):
        with connect(cluster, log=progress, wait_workers=wait_workers) as client:
            read_on_cluster(client, parts, fold, report, on_submit, patience=wait_workers)
        how = f"cluster {cluster}"
    else:
        read_on_cluster(cluster, parts, fold, report, on_submit, patience=wait_workers)
        how = f"cluster {cluster.scheduler.address}"
    read_s = time.perf_counter() - started
    head = fold.finish()
    tail_s = time.perf_counter() - started - read_s
    keys = fold.span()
    lines = fold.lines
    expectancy, scores = Publisher(Path(state_dir), cfg.score, wall).documents(engine)
    if save_state:  # the state first: one that cannot be written publishes nothing
        fund.save_state(
            state_dir, engine, sources=[s.label for s in sources], keys=keys, head=head,
            documents=expectancy,
        )  # fmt: skip
    if publish:
        publish_intel(state_dir, expectancy, scores)
    seconds = time.perf_counter() - started
    how = f"{how}, {len(sources)} source(s), {len(parts)} part(s)"
    return FundResult(
        expectancy, scores, sources, len(parts), lines, seconds, engine, head, keys, how,
        read_s, fold.spent, tail_s, fold.held_max,
    )  # fmt: skip
