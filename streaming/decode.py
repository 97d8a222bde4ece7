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

Records can be de-duplicated by id over a bounded horizon
(:class:`~streaming.recent_ids.RecentIds`).

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
from collections.abc import Callable, Iterable
from typing import Any, Generic, NamedTuple, TypeVar

import msgspec

from streaming.recent_ids import DEFAULT_DEDUP_HORIZON, RecentIds

__all__ = [
    "REJECT_REASONS",
    "Check",
    "LineDecoder",
    "Reject",
    "Skip",
    "classify",
]

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
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)


class Reject(NamedTuple):
    reason: str
    detail: str = ""


class Skip(NamedTuple):
    reason: str
    detail: str = ""


# A record check: the positions of the records to reject, with their rejects.
Check = Callable[[list[Any]], list[tuple[int, Reject]]]


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
