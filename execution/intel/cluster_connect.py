"""Reaching a Dask cluster and noticing when it is gone: the ``--cluster`` value,
the client of a new ``LocalCluster`` or of a running ``tcp://`` scheduler (the
connection and its handshake bounded, a scheduler without workers waited for),
Dask's own log records held back while the cluster is in use, and the watch that
turns a scheduler or every worker lost mid-run into one :class:`ClusterError`
(``docs/scale-out.md``, "Losing the cluster mid-run"). The fund replay that uses
them is :mod:`execution.intel.cluster`.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

_CLUSTER = re.compile(r"^(?:local(?::(\d+))?|tcp://\S+)$")
# Seconds to wait for a first worker at a scheduler (``--wait-workers``).
WAIT_WORKERS_S = 30.0
# Seconds: between looks for a part back; without one, between asking the scheduler
# whether it is there (and its workers); the most to wait for its answer or a close.
POLL_S, CHECK_S, ASK_S = 0.005, 1.0, 5.0
CONNECT_S = 10.0  # connecting to a tcp:// scheduler, handshake included


class ClusterError(ValueError):
    """A ``--cluster`` value that names no cluster, or a scheduler that cannot be
    reached or is missing the ``[dask]`` extra."""


def cluster_problem(spec: str) -> str | None:
    """Why ``spec`` is not ``local``, ``local:N`` (N ≥ 1) or ``tcp://HOST:PORT``."""
    m = _CLUSTER.match(spec)
    if m is None or (m.group(1) is not None and int(m.group(1)) < 1):
        return f"bad --cluster {spec!r}: use local, local:N (N ≥ 1) or tcp://HOST:PORT"
    return None


def distributed() -> Any:
    """The ``distributed`` module (the ``[dask]`` extra), imported when first used so
    the default install and a one-process replay do without it; untyped here."""
    try:
        return importlib.import_module("distributed")
    except ImportError:
        raise ClusterError("--cluster needs Dask distributed (pip install '.[dask]')") from None


@contextlib.contextmanager
def connect(
    spec: str, *, log: TextIO | None = None, wait_workers: float = WAIT_WORKERS_S
) -> Iterator[Any]:
    """A ``distributed.Client``: of a new ``LocalCluster`` of N single-threaded
    worker *processes* (``local[:N]``, N default 2), or of the running scheduler
    at ``tcp://HOST:PORT``, once it has a worker (a :class:`ClusterError` after
    ``wait_workers`` seconds without one). The dashboard's link goes to ``log``."""
    problem = cluster_problem(spec)
    if problem:
        raise ClusterError(problem)
    dist = distributed()
    Client, LocalCluster = dist.Client, dist.LocalCluster  # noqa: N806
    with _held_logs(), contextlib.ExitStack() as stack:
        if spec.startswith("local"):
            n = int(spec.partition(":")[2] or 2)
            lc = stack.enter_context(
                LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
            )
            client = stack.enter_context(Client(lc))
        else:
            client = _client(Client, spec, CONNECT_S)
            stack.callback(_close, client)
            if log is not None and not client.nthreads():
                log.write(f"cluster: waiting up to {wait_workers:g} s for a worker at {spec}\n")
            try:
                client.wait_for_workers(1, timeout=wait_workers)
            except (TimeoutError, OSError) as exc:
                raise ClusterError(
                    f"no worker joined the scheduler at {spec} within {wait_workers:g} s "
                    f"(--wait-workers): {error_line(exc) or 'timed out'}"
                ) from None
        if log is not None:
            log.write(f"cluster: {spec}, dashboard {client.dashboard_link}\n")
            log.flush()
        yield client


def _client(make: Any, spec: str, seconds: float) -> Any:
    """A client of the scheduler at ``spec``, or a :class:`ClusterError` once
    ``seconds`` have passed: Dask bounds the connection, not the handshake after
    it, so a scheduler that accepts and never answers (stopped, or another service
    on the port) would hold the replay for ever. The handshake runs on a daemon
    thread that is left behind when it does not come back."""
    got: dict[str, Any] = {}

    def run() -> None:
        try:
            got["client"] = make(spec, timeout=f"{seconds:g}s")
        except Exception as exc:
            got["error"] = exc

    thread = threading.Thread(target=run, name="dask-connect", daemon=True)
    thread.start()
    thread.join(seconds + 2.0)
    if "client" in got:
        return got["client"]
    why = error_line(got["error"]) if "error" in got else f"no answer within {seconds:g} s"
    raise ClusterError(f"cannot reach the scheduler at {spec}: {why}")


@contextlib.contextmanager
def _held_logs() -> Iterator[None]:
    """While a cluster is in use, what Dask logs through the root logger's
    handlers (the command line's stderr) is held back: emitted at the end, or
    dropped when a :class:`ClusterError` ends the run — the error is then the one
    line, not the tracebacks of closed connections that lead to it."""
    held: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        if not record.name.startswith(("distributed", "tornado", "asyncio")):
            return True
        if not held or held[-1] is not record:  # once, not once per handler
            held.append(record)
        return False

    handlers = list(logging.getLogger().handlers)
    for h in handlers:
        h.addFilter(hold)
    try:
        yield
    except ClusterError:
        held.clear()
        raise
    finally:
        for h in handlers:
            h.removeFilter(hold)
        for record in held:
            logging.getLogger(record.name).handle(record)


def _close(client: Any) -> None:
    """Close the client of a ``tcp://`` scheduler within a bounded time: when the
    scheduler was lost, closing has no one to tell, and its failure must not hide
    the error that says so (or, after a finished read, change the result)."""
    with contextlib.suppress(OSError, TimeoutError, RuntimeError):
        client.close(timeout=ASK_S)


def error_line(exc: BaseException) -> str:
    """The first line of what ``exc`` says."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- the ordered fold ---------------------------------------------------------------------


class ClusterWatch:
    """Whether the cluster of a run is still there, asked while no part comes back:
    a :class:`ClusterError` naming what was lost once the connection to the
    scheduler is closed, the scheduler has not answered for ``patience`` seconds,
    or it has had no worker for that long (a killed worker's nanny starts another
    well within it)."""

    def __init__(self, client: Any, patience: float) -> None:
        self.client, self.patience = client, patience
        self.address = str(client.scheduler.address)
        self.heard_from()

    def heard_from(self) -> None:
        """A part came back (or the scheduler answered with a worker)."""
        self.heard = self.staffed = time.monotonic()
        self.due = self.heard + CHECK_S

    def lost(self, what: str = "") -> ClusterError:
        return ClusterError(
            f"lost the Dask scheduler at {self.address} during the run{what}; nothing published"
        )

    def check(self) -> None:
        if self.client.status in ("connecting", "closing", "closed"):
            raise self.lost()
        if time.monotonic() < self.due:
            return
        wait = min(ASK_S, max(1.0, self.patience - (time.monotonic() - self.heard)))
        with contextlib.suppress(OSError, TimeoutError):
            ask = self.client.scheduler.identity
            if self.client.sync(ask, n_workers=0, callback_timeout=wait).get("n_workers"):
                return self.heard_from()
            self.heard = time.monotonic()
        now, self.due = time.monotonic(), time.monotonic() + CHECK_S
        if self.client.status != "running":
            raise self.lost()
        if now - self.heard >= self.patience:
            raise self.lost(f": no answer for {self.patience:g} s (--wait-workers)")
        if now - self.staffed >= self.patience:
            raise ClusterError(
                f"lost every worker of the Dask scheduler at {self.address} during the run, "
                f"and none joined within {self.patience:g} s (--wait-workers); nothing published"
            )
        return None

    def cancelled(self, why: BaseException) -> ClusterError:
        """The error of a part cancelled under this run: the scheduler's connection
        was lost (Dask cancels every future then), or the cluster cancelled it."""
        if self.client.status != "running" or "connection-lost" in str(why):
            return self.lost()
        return ClusterError(f"the cluster cancelled a part: {error_line(why)}")
