"""The history store: one SQLite database in WAL mode (``history_v6.sqlite`` in the
state directory; why SQLite and not JSONL segments: benchmarks/RESULTS-history.md).

* **One transaction per snapshot**: the bucket's row and all its records commit
  together or not at all, so a reader (WAL: readers never block and are never
  blocked) sees every record of a bucket or none, never a torn one; a kill -9 at
  any moment leaves the last committed snapshot.
* **Idempotent by bucket**: a snapshot of a bucket already stored (a replay of the
  same log, a follow restarted from a checkpoint older than its last snapshot) is
  skipped, so nothing is duplicated; the first one stored stands.
* **Bounded**: after each append, buckets older than the newest by more than
  ``max_age_s`` and all but the newest ``max_buckets`` are deleted in the same
  transaction, and the freed pages go back to the file system
  (``auto_vacuum = INCREMENTAL``). Retention runs in event time, so it too is a
  function of the log.
* ``synchronous = FULL``: a committed snapshot is on disk before the follow
  checkpoint that depends on it is written.

The tables (schema: ``execution/schemas/history_v6.schema.json``)::

    buckets(bucket PRIMARY KEY, as_of, symbols)         -- one row per closed bucket
    symbols(symbol, window, bucket, <SYMBOL_FIELDS>)    -- key (symbol, window, bucket)
    fund(window, bucket, <FUND_FIELDS>)                 -- key (window, bucket)
    meta(key PRIMARY KEY, value)                        -- schema, version, cadence_s

Both record tables are clustered on their key (``WITHOUT ROWID``), so one symbol's
history is one range read.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from execution.intel.history import FUND_FIELDS, SCHEMA, SYMBOL_FIELDS, VERSION, Record, Snapshot
from streaming.faults import crash_point

SYMBOL_KEY: Final = ("symbol", "window", "bucket")
FUND_KEY: Final = ("window", "bucket")
BUSY_TIMEOUT_S: Final = 30.0
# Pages freed by retention (4 KiB each) at which an append compacts the file.
COMPACT_FREE_PAGES: Final = 1024


class HistoryError(ValueError):
    """A history store that cannot be used (another cadence, not a history, damaged)."""


def _columns(key: Sequence[str], fields: Sequence[str]) -> str:
    cols = [f"{k} {'TEXT' if k in ('symbol', 'window') else 'INTEGER'} NOT NULL" for k in key]
    cols += [f"{f} REAL" for f in fields]
    return ", ".join(cols) + f", PRIMARY KEY ({', '.join(key)})"


_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS buckets (bucket INTEGER PRIMARY KEY, as_of REAL, "
    "symbols INTEGER NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS symbols ({_columns(SYMBOL_KEY, SYMBOL_FIELDS)}) WITHOUT ROWID",
    f"CREATE TABLE IF NOT EXISTS fund ({_columns(FUND_KEY, FUND_FIELDS)}) WITHOUT ROWID",
)


def _insert(table: str, names: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


class HistoryStore:
    """Appends snapshots; see the module docstring."""

    def __init__(
        self,
        path: str | Path,
        *,
        cadence_s: int,
        max_age_s: float = float("inf"),
        max_buckets: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.cadence = cadence_s
        self.max_age_s = max_age_s
        self.max_buckets = max_buckets
        try:
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._setup()
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: not a usable history ({exc})") from None

    def _setup(self) -> None:
        db = self.db
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect on a new file
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("BEGIN IMMEDIATE")
        try:
            for ddl in _DDL:
                db.execute(ddl)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            want = {"schema": SCHEMA, "version": str(VERSION), "cadence_s": str(self.cadence)}
            if not meta:
                db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(want.items()))
            elif meta.get("schema") != SCHEMA or meta.get("version") != str(VERSION):
                raise HistoryError(
                    f"{self.path}: a {meta.get('schema')} v{meta.get('version')} store, "
                    f"not {SCHEMA} v{VERSION}"
                )
            elif meta.get("cadence_s") != str(self.cadence):
                raise HistoryError(
                    f"{self.path}: history has a cadence of {meta.get('cadence_s')} s, the "
                    f"configuration {self.cadence} s (use another state directory)"
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def buckets(self) -> list[int]:
        return [b for (b,) in self.db.execute("SELECT bucket FROM buckets ORDER BY bucket")]

    def append(self, snapshots: Iterable[Snapshot]) -> int:
        """Store the snapshots of buckets not stored yet, each in its own transaction
        with its retention; the number stored. A store that cannot be written is a
        :class:`HistoryError` (the snapshots stored before it stay)."""
        stored = 0
        try:
            for snap in snapshots:
                stored += self._append_one(snap)
            if stored and self.free_pages() >= COMPACT_FREE_PAGES:
                self.compact()
        except sqlite3.Error as exc:  # a full or read-only disk: one line, retried later
            raise HistoryError(f"{self.path}: cannot store a snapshot ({exc})") from None
        return stored

    def free_pages(self) -> int:
        return int(self.db.execute("PRAGMA freelist_count").fetchone()[0])

    def _append_one(self, snap: Snapshot) -> int:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            newest = db.execute("SELECT max(bucket) FROM buckets").fetchone()[0]
            known = db.execute("SELECT 1 FROM buckets WHERE bucket = ?", (snap.bucket,))
            if known.fetchone() is not None or self._expired(snap.bucket, newest):
                db.execute("COMMIT")
                return 0
            db.execute(
                "INSERT INTO buckets VALUES (?, ?, ?)",
                (snap.bucket, snap.as_of, len(snap.symbols)),
            )
            self._rows("symbols", SYMBOL_KEY, SYMBOL_FIELDS, snap.symbols)
            self._rows("fund", FUND_KEY, FUND_FIELDS, snap.fund)
            crash_point("history.inserted")
            self._retain()
            crash_point("history.retained")
            db.execute("COMMIT")
            crash_point("history.committed")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return 1

    def _expired(self, bucket: int, newest: int | None) -> bool:
        """Whether retention would drop ``bucket`` at once (older than it allows)."""
        if newest is None:
            return False
        if newest - bucket > self.max_age_s:
            return True
        if self.max_buckets is not None and bucket < newest:
            kept = self.db.execute(
                "SELECT count(*) FROM buckets WHERE bucket > ?", (bucket,)
            ).fetchone()[0]
            return bool(kept >= self.max_buckets)
        return False

    def _rows(
        self, table: str, key: Sequence[str], fields: Sequence[str], records: Sequence[Record]
    ) -> None:
        names = [*key, *fields]
        self.db.executemany(_insert(table, names), [[r[n] for n in names] for r in records])

    def _retain(self) -> None:
        """Delete what retention drops (inside the append's transaction)."""
        db = self.db
        newest = db.execute("SELECT max(bucket) FROM buckets").fetchone()[0]
        cutoff = newest - self.max_age_s
        if self.max_buckets is not None:
            row = db.execute(
                "SELECT bucket FROM buckets ORDER BY bucket DESC LIMIT 1 OFFSET ?",
                (self.max_buckets - 1,),
            ).fetchone()
            if row is not None:
                cutoff = max(cutoff, row[0])
        if db.execute("SELECT 1 FROM buckets WHERE bucket < ? LIMIT 1", (cutoff,)).fetchone():
            for table in ("symbols", "fund", "buckets"):
                db.execute(f"DELETE FROM {table} WHERE bucket < ?", (cutoff,))

    def compact(self) -> None:
        """Return the pages freed by retention to the file system and fold the WAL
        into the database (both crash-safe: SQLite's own transactions)."""
        self.db.execute("PRAGMA incremental_vacuum")
        crash_point("history.vacuumed")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def open_store(state_dir: str | Path, cfg: Any) -> HistoryStore:
    """The store of ``cfg`` (a :class:`~execution.config.HistoryConfig`) in ``state_dir``
    (created when missing)."""
    try:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HistoryError(f"{state_dir}: cannot create the state directory ({exc})") from None
    return HistoryStore(
        Path(state_dir) / cfg.file,
        cadence_s=cfg.cadence_s,
        max_age_s=cfg.max_age_days * 86400.0,
        max_buckets=cfg.max_buckets,
    )


def read_symbol(path: str | Path, symbol: str, window: str | None = None) -> list[dict[str, Any]]:
    """One symbol's records, oldest first (every window, or ``window``), read-only."""
    where, args = "symbol = ?", [symbol]
    if window is not None:
        where, args = where + " AND window = ?", [symbol, window]
    names = [*SYMBOL_KEY, *SYMBOL_FIELDS]
    sql = f"SELECT {', '.join(names)} FROM symbols WHERE {where}"
    return _read(path, sql, args, names, "symbol")


def read_fund(path: str | Path, window: str | None = None) -> list[dict[str, Any]]:
    """The fund's records, oldest first (every window, or ``window``), read-only."""
    names = [*FUND_KEY, *FUND_FIELDS]
    sql = f"SELECT {', '.join(names)} FROM fund"
    args: list[str] = []
    if window is not None:
        sql, args = sql + " WHERE window = ?", [window]
    return _read(path, sql, args, names, "fund")


def check_cadence(path: str | Path, cadence: int) -> None:
    """Raise HistoryError unless ``path`` is a history of this version taken every
    ``cadence`` seconds (read-only)."""
    rows = _read(path, "SELECT key, value FROM meta", [], ["key", "value"], "")
    meta = {r["key"]: r["value"] for r in rows}
    if meta.get("schema") != SCHEMA or meta.get("version") != str(VERSION):
        raise HistoryError(f"{path}: not a {SCHEMA} history of version {VERSION}")
    if meta.get("cadence_s") != str(cadence):
        raise HistoryError(
            f"{path}: history has a cadence of {meta.get('cadence_s')} s, the "
            f"configuration {cadence} s (use its configuration or another state directory)"
        )


def known(path: str | Path) -> tuple[list[str], list[str]]:
    """The symbols and the windows of the history (sorted), read-only."""
    symbols = _read(path, "SELECT DISTINCT symbol FROM symbols", [], ["symbol"], "")
    windows = _read(path, "SELECT DISTINCT window FROM fund", [], ["window"], "")
    return sorted(r["symbol"] for r in symbols), sorted(r["window"] for r in windows)


def _read(
    path: str | Path, sql: str, args: Sequence[str], names: Sequence[str], kind: str
) -> list[Record]:
    if not Path(path).is_file():
        raise HistoryError(f"{path}: no history (replay or follow a log first)")
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            order = " ORDER BY bucket, window" if kind else ""
            rows = db.execute(sql + order, args).fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"{path}: cannot read the history ({exc})") from None
    head = {"schema": SCHEMA, "kind": kind} if kind else {}
    for row in rows:
        for n, v in zip(names, row, strict=True):
            if not _fits(n, v):
                raise HistoryError(f"{path}: a damaged record ({n} = {v!r:.40})")
    return [{**head, **{n: _whole(n, v) for n, v in zip(names, row, strict=True)}} for row in rows]


_TEXT: Final = frozenset({"symbol", "window", "key", "value"})


def _fits(name: str, v: Any) -> bool:
    """A stored value as the schema has it: text for the keys; a finite number or
    null for every figure."""
    if name in _TEXT:
        return isinstance(v, str)
    return v is None or (isinstance(v, int | float) and math.isfinite(v))


_WHOLE: Final = frozenset({"trades", "r_trades", "wins", "fills", "rank", "symbols", "bucket"})


def _whole(name: str, v: Any) -> Any:
    """Counts read back as whole numbers (stored as REAL with the figures)."""
    return int(v) if name in _WHOLE and isinstance(v, float) and v.is_integer() else v
