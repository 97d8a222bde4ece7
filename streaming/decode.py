"""Decoding one line into a typed record, or a reject with a reason.

The record type is any ``msgspec`` type (typically a tagged union of Structs);
the decoder knows nothing of its meaning. Every line ends as exactly one of:

* a record;
* a :class:`Reject` with one of :data:`REJECT_REASONS`;  a number outside a bound
  of its type is ``invalid_value`` when the bound is 0 (a sign rule: ``> 0``,
  ``>= 0``) and ``out_of_range`` for any other bound (a range limit, see
  ``docs/numerics.md``); a record that decodes but fails the consumer's ``check``
  (a derived value out of range) is rejected with the check's reason;
* a :class:`Skip` (``unknown_tag``): a well-formed line of a kind this consumer
  does not read; counted apart, never an error.

Records can be de-duplicated by id over a bounded horizon (:class:`RecentIds`).

>>> import msgspec
>>> class Ping(msgspec.Struct, tag_field="kind", tag="ping"):
...     id: str
>>> d = LineDecoder(Ping, tag_field="kind", id_of=lambda p: p.id)
>>> d.decode(b'{"kind":"ping","id":"a"}')
Ping(id='a')
>>> d.decode(b'{"kind":"ping","id":"a"}')
Reject(reason='duplicate_id', detail="id 'a' seen within the last 100000")
>>> d.decode(b'{"kind":"pong"}')
Skip(reason='unknown_tag', detail="Invalid value 'pong' - at `$.kind`")
>>> d.decode(b'{"kind":"ping","id":NaN}').reason
'non_finite'
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, Generic, NamedTuple, TypeVar

import msgspec

T = TypeVar("T")

REJECT_REASONS = (
    "over_long",
    "invalid_utf8",
    "not_json",
    "not_object",
    "too_deep",
    "missing_field",
    "wrong_type",
    "invalid_value",
    "non_finite",
    "out_of_range",
    "duplicate_id",
    "too_many_groups",
)
_NON_FINITE_TOKEN = re.compile(rb"(?<![\"\w])-?(NaN|Infinity|inf|nan)(?![\"\w])")
_BOUND = re.compile(r"^Expected `\w+` (?:>|<|>=|<=) (\S+)")
DEFAULT_DEDUP_HORIZON = 100_000
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)


class Reject(NamedTuple):
    reason: str
    detail: str = ""


class Skip(NamedTuple):
    reason: str
    detail: str = ""


# A record check: the positions of the records to reject, with their rejects.
Check = Callable[[list[Any]], list[tuple[int, Reject]]]


class IdTrace:
    """The keys offered to a :class:`RecentIds` (by :meth:`~RecentIds.add`,
    :meth:`~RecentIds.admit` or :meth:`~RecentIds.add_many`), in order, and the
    positions among them of the duplicates, up to and including the key whose
    addition was the ``limit``-th; ``complete`` once that many were added. It also
    counts all the keys offered and the duplicates among them, limit or not.

    After ``horizon`` additions a :class:`RecentIds` holds exactly the keys added
    since the trace began, whatever it held before: so a trace of ``horizon``
    additions is all of a fold's dependence on the ids it started with."""

    __slots__ = ("added", "duplicates", "dups", "ids", "limit", "offered")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.added = 0
        self.ids: list[str] = []
        self.dups: list[int] = []
        self.offered = 0
        self.duplicates = 0

    @property
    def complete(self) -> bool:
        return self.added >= self.limit

    def note(self, keys: list[str], dups: list[int]) -> None:
        """``keys`` were offered in order; those at ``dups`` (ascending) were held."""
        self.offered += len(keys)
        self.duplicates += len(dups)
        if self.added >= self.limit:
            return
        room = self.limit - self.added
        if len(keys) - len(dups) >= room:  # stop just after the limit-th addition
            passed = 0  # duplicates before the cut
            for i in dups:
                if i - passed >= room:
                    break
                passed += 1
            end = room + passed
            keys = keys[:end]
            dups = dups[:passed]
        base = len(self.ids)
        self.ids += keys
        self.dups += [base + i for i in dups] if base else dups
        self.added += len(keys) - len(dups)

    def additions(self) -> list[str]:
        """The keys that were added (not duplicates), in order."""
        if not self.dups:
            return list(self.ids)
        drop = set(self.dups)
        return [k for i, k in enumerate(self.ids) if i not in drop]


class RecentIds:
    """The last ``horizon`` ids seen, for duplicate detection in bounded memory.

    The ids held are always the last ``horizon`` additions (an addition is a key
    that was not held when it came; those are distinct among themselves)."""

    __slots__ = ("_order", "_set", "_trace", "horizon")

    def __init__(self, horizon: int = DEFAULT_DEDUP_HORIZON, ids: list[str] | None = None) -> None:
        self.horizon = horizon
        self._order: deque[str] = deque()
        self._set: set[str] = set()
        self._trace: IdTrace | None = None
        for key in ids or ():
            self.add(key)

    def __contains__(self, key: str) -> bool:
        return key in self._set

    def add(self, key: str) -> None:
        self.admit(key)

    def admit(self, key: str) -> bool:
        """:meth:`add` ``key``; whether it was added (False: it was held, a duplicate)."""
        if key in self._set:
            if self._trace is not None:
                self._trace.note([key], [0])
            return False
        self._order.append(key)
        self._set.add(key)
        if len(self._order) > self.horizon:
            self._set.discard(self._order.popleft())
        if self._trace is not None:
            self._trace.note([key], [])
        return True

    def copy(self) -> RecentIds:
        """An independent copy holding the same ids (not tracing)."""
        other = RecentIds(self.horizon)
        other._order = self._order.copy()
        other._set = self._set.copy()
        return other

    def reset(self, ids: Iterable[str] = ()) -> None:
        """Hold what a fresh instance holds after :meth:`add` of each of ``ids`` in
        order; a running trace is not told."""
        fresh = RecentIds(self.horizon)
        fresh.add_many(list(ids))
        self._order, self._set = fresh._order, fresh._set

    def trace(self, limit: int) -> None:
        """Start recording an :class:`IdTrace` of up to ``limit`` additions."""
        self._trace = IdTrace(limit)

    def untrace(self) -> IdTrace:
        """Stop recording; the trace so far (an empty, complete one if none ran)."""
        trace, self._trace = self._trace, None
        return IdTrace(0) if trace is None else trace

    def add_many(self, keys: list[str]) -> list[int]:
        """:meth:`add` each key in order; returns the positions of the keys that were
        already held (duplicates, not added again)."""
        dups = self._add_many(keys)
        if self._trace is not None:
            self._trace.note(keys, dups)
        return dups

    def _add_many(self, keys: list[str]) -> list[int]:
        """:meth:`add_many` without the trace.

        Set operations find the keys that may be duplicates (held already, or more
        than once in the batch); only their places are decided one by one. A key is
        held at its place when its latest addition is among the last ``horizon``
        additions by then: the initial ids followed by the keys added so far."""
        held, fresh = self._set, set(keys)
        order = self._order
        if len(fresh) == len(keys) and held.isdisjoint(fresh):
            order.extend(keys)
            held |= fresh
            self._trim()
            return []
        known = held & fresh
        suspects = (
            known | {k for k, n in Counter(keys).items() if n > 1}
            if (len(fresh) != len(keys))
            else known
        )
        base = len(order)
        latest = {k: i for i, k in enumerate(order) if k in known} if known else {}
        dups: list[int] = []
        came_back = False  # a key aged out and was added again
        for i in [i for i, k in enumerate(keys) if k in suspects]:
            key, added = keys[i], base + i - len(dups)  # its place if it is added
            last = latest.get(key)
            if last is not None and last >= added - self.horizon:
                dups.append(i)
            else:
                came_back = came_back or last is not None
                latest[key] = added
        if dups:
            drop = set(dups)
            keys = [k for i, k in enumerate(keys) if i not in drop]
        order.extend(keys)
        if came_back:  # the deque holds it twice until the older one is trimmed
            over = len(order) - self.horizon
            if over > 0:
                self._order = deque(islice(order, over, None))
            self._set = set(self._order)
        else:
            held.update(keys)
            self._trim()
        return dups

    def _trim(self) -> None:
        over = len(self._order) - self.horizon
        if over > 0:  # C-level: the set forgets the oldest, the deque keeps the rest
            self._set.difference_update(islice(self._order, over))
            self._order = deque(islice(self._order, over, None))

    def merge(self, other: RecentIds) -> None:
        """The last ``horizon`` distinct ids of this one's followed by ``other``'s
        (an id in both counts at its later place)."""
        if len(other._order) >= self.horizon:
            self._order = deque(list(other._order)[-self.horizon :])
            self._set = set(self._order)
            return
        both = self._set & other._set
        if both:
            self._order = deque(k for k in self._order if k not in both)
        self._order.extend(other._order)
        self._set |= other._set
        self._trim()

    def isdisjoint(self, keys: Iterable[str]) -> bool:
        return self._set.isdisjoint(keys)

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def to_state(self) -> dict[str, Any]:
        return {"horizon": self.horizon, "ids": list(self._order)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RecentIds:
        return cls(int(state["horizon"]), list(state["ids"]))


def classify(exc: Exception, line: bytes, tag_field: str | None) -> Reject | Skip:
    """Map a decoding failure to its reason."""
    msg = " ".join(str(exc).split())
    if isinstance(exc, UnicodeDecodeError):
        return Reject("invalid_utf8", msg)
    if isinstance(exc, RecursionError):
        return Reject("too_deep", "nesting too deep")
    if isinstance(exc, msgspec.ValidationError):
        if msg.startswith("Object missing required field"):
            return Reject("missing_field", msg)
        if msg.startswith("Expected `object`") and " - at " not in msg:
            return Reject("not_object", msg)
        if tag_field and msg.startswith("Invalid value") and msg.endswith(f"`$.{tag_field}`"):
            return Skip("unknown_tag", msg)
        if "out of range" in msg or "non-finite" in msg:
            return Reject("non_finite", msg)
        bound = _BOUND.match(msg)
        if bound:
            return Reject("invalid_value" if float(bound[1]) == 0.0 else "out_of_range", msg)
        if msg.startswith("Expected"):
            return Reject("wrong_type", msg)
        return Reject("invalid_value", msg)
    if not _is_utf8(line):  # newer msgspec reports it as a DecodeError
        return Reject("invalid_utf8", msg)
    if _NON_FINITE_TOKEN.search(line):
        return Reject("non_finite", msg)
    return Reject("not_json", msg)


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode()
    except UnicodeDecodeError:
        return False
    return True


class LineDecoder(Generic[T]):
    """Bytes of one line → a record of ``type``, a :class:`Reject` or a :class:`Skip`."""

    __slots__ = ("_decoder", "check", "id_of", "ids_of", "recent", "tag_field")

    def __init__(
        self,
        type: Any,
        *,
        tag_field: str | None = None,
        id_of: Callable[[T], str | None] | None = None,
        ids_of: Callable[[list[T]], list[str | None]] | None = None,
        dedup_horizon: int = DEFAULT_DEDUP_HORIZON,
        check: Check | None = None,
    ) -> None:
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(type)
        # records that decode but must not be applied (before de-duplication: a
        # rejected line's id never enters the horizon)
        self.check = check
        self.tag_field = tag_field
        self.id_of = id_of
        # the ids of many records at once (default: ``id_of`` of each)
        self.ids_of = ids_of
        self.recent = RecentIds(dedup_horizon)

    def decode(self, line: bytes) -> T | Reject | Skip:
        try:
            record = self._decoder.decode(line)
        except _DECODE_ERRORS as exc:
            return classify(exc, line, self.tag_field)
        if self.check is not None:
            bad = self.check([record])
            if bad:
                return bad[0][1]
        if self.id_of is not None:
            key = self.id_of(record)
            if key is not None and not self.recent.admit(key):
                return Reject(
                    "duplicate_id", f"id {key!r} seen within the last {self.recent.horizon}"
                )
        return record

    def decode_many(self, lines: Iterable[bytes]) -> tuple[list[T], list[Reject | Skip]]:
        """:meth:`decode` of each line, in one pass: the records in line order, and
        the outcome of every line that gave none."""
        batch = lines if isinstance(lines, list) else list(lines)
        records: list[T] = []
        outcomes: list[Reject | Skip] = []
        # One C-level pass (``extend`` of a ``map``) until a line fails: ``extend``
        # keeps what it took before the failure and the iterator stands just after the
        # failing line, so the pass resumes there — no per-line Python loop.
        rest = iter(batch)
        done = 0  # lines consumed: records + outcomes
        while True:
            before = len(records)
            try:
                records.extend(map(self._decoder.decode, rest))
                break
            except _DECODE_ERRORS as exc:
                done += len(records) - before
                outcomes.append(classify(exc, batch[done], self.tag_field))
                done += 1
        if self.check is not None and records:
            bad = self.check(records)
            if bad:
                outcomes += [reject for _, reject in bad]
                drop = {i for i, _ in bad}
                records = [r for i, r in enumerate(records) if i not in drop]
        if self.id_of is not None and records:
            ids = self.ids_of(records) if self.ids_of else list(map(self.id_of, records))
            if None in ids:
                known = [(i, k) for i, k in enumerate(ids) if k is not None]
                dups = [known[j][0] for j in self.recent.add_many([k for _, k in known])]
            else:
                dups = self.recent.add_many(ids)  # type: ignore[arg-type]
            if dups:
                horizon = self.recent.horizon
                outcomes += [
                    Reject("duplicate_id", f"id {ids[i]!r} seen within the last {horizon}")
                    for i in dups
                ]
                drop = set(dups)
                records = [r for i, r in enumerate(records) if i not in drop]
        return records, outcomes
