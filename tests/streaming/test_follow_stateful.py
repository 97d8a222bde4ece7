"""A model-based test of the tail-follower (in the spirit of Vector's file-watcher tests).

Rules act on real files in a temporary directory: append whole lines, append a
partial line and complete it later, rename-rotate (keeping three rotated files),
copytruncate, plain truncate, delete and recreate, gzip the oldest rotated file,
poll, checkpoint, and crash-and-restart from the last checkpoint (in-memory
deliveries since that checkpoint are lost with the process, as they would be).

The follower runs without a grace period here (a file that is not in the set is
gone at once), so every loss is reported at the next poll. The model knows every
line ever written and, for each destructive action, which
lines it destroyed before the follower read them. Such a loss must be reported
(a gap) when the follower had already consumed bytes of the damaged file; a file
the follower never read a byte of looks, once truncated, exactly like a file that
never held those lines, and no follower can tell.

Invariants after every step:
* deliveries are strictly increasing line ids: each line at most once, in order;
* after a poll, every complete line written is delivered, except lines the model
  marked as destroyed unread; and if any of those was in a file the follower had
  read from, a gap was reported.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from streaming.checkpoint import CheckpointStore
from streaming.follow import Follower
from streaming.framing import OVERLONG
from streaming.identity import Position

KEEP = 3  # rotated files kept, like logrotate's "rotate 3"


def _key(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def line_bytes(i: int, pad: int) -> bytes:
    return b"%08d|" % i + b"x" * pad + b"\n"


class FollowerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="follow-"))
        self.path = self.dir / "router_metrics.jsonl"
        self.path.touch()
        self.next_id = 0
        self.partial: tuple[int, bytes] | None = None  # (id, rest still to write)
        self.written: list[int] = []  # complete lines, in write order
        self.generation: dict[int, int] = {}  # line -> first line of the file it was written to
        # which lines sit in which file (model of the file system)
        self.files: dict[str, list[int]] = {self.path.name: []}
        self.gen_of_key: dict[tuple[int, int], int] = {}  # inode -> first line of its file
        # deleted files stay open here, so that no inode is reused within one example:
        # this machine judges loss reports; identity under inode reuse is the
        # exactly-once machine's (test_follow_exactly_once.py)
        self.tombs: list[int] = []
        # a copytruncate and a delete of the live file within one poll interval cannot
        # be ordered by any poller (docs/follower.md, limits): rotators use one scheme
        self.copied_since_poll = False
        # ... and a follower restarted from a checkpoint knows nothing after the poll
        # that position came from: a copytruncate since that poll counts as within its
        # first poll interval (a checkpoint taken without polling learns nothing new)
        self.copied_since_checkpoint = False
        self.lossable: set[int] = set()  # destroyed unread, in a file never read from
        self.reportable: set[int] = set()  # destroyed unread, in a file read from
        self.delivered: list[int] = []
        self.gaps = 0
        self.follower: Follower | None = Follower(self.path, grace_s=0)
        self.follower.poll()  # started: it has opened the (empty) live file
        self.started = True  # polled since (re)start, so it holds the file open
        self.store = CheckpointStore(self.dir / "ckpt" / "follower.ckpt")
        self.ckpt: tuple[Position, int, int] = (self.follower.position, 0, 0)
        self.checkpoint()

    def teardown(self) -> None:
        if self.follower is not None:
            self.follower.close()
        for fd in self.tombs:
            os.close(fd)
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- writer ---------------------------------------------------------------------

    def _lines_in(self, name: str) -> list[int]:
        return self.files.setdefault(name, [])

    @rule(n=st.integers(1, 5), pad=st.integers(0, 40))
    def append(self, n: int, pad: int) -> None:
        data = b""
        if self.partial is not None:
            i, rest = self.partial
            data += rest
            self._complete(i)
            self.partial = None
        for _ in range(n):
            data += line_bytes(self.next_id, pad)
            self._complete(self.next_id)
            self.next_id += 1
        with open(self.path, "ab") as fh:
            fh.write(data)

    @precondition(lambda self: self.partial is None)
    @rule(pad=st.integers(0, 40), cut=st.integers(1, 8))
    def append_partial(self, pad: int, cut: int) -> None:
        full = line_bytes(self.next_id, pad)
        with open(self.path, "ab") as fh:
            fh.write(full[:cut])
        self.partial = (self.next_id, full[cut:])
        self.next_id += 1

    def _complete(self, i: int) -> None:
        self.written.append(i)
        lines = self._lines_in(self.path.name)
        self.generation[i] = lines[0] if lines else i
        if not lines:
            self.gen_of_key[_key(self.path)] = i
        lines.append(i)

    def _finish_partial(self) -> None:
        """A writer completes its line before the file is rotated away."""
        if self.partial is not None:
            i, rest = self.partial
            with open(self.path, "ab") as fh:
                fh.write(rest)
            self._complete(i)
            self.partial = None

    # --- rotation and damage ----------------------------------------------------------

    def _undelivered(self, ids: list[int]) -> set[int]:
        return set(ids) - set(self.delivered)

    def _pos(self) -> Position:
        assert self.follower is not None or not self.started
        return self.follower.position if self.started else self.ckpt[0]

    def _read_from(self, path: Path) -> bool:
        """Had the follower (as far as it will remember) consumed bytes of this file?
        It knows files by inode (and the digests of the bytes it consumed)."""
        key = _key(path)
        return any(f.key == key and f.offset > 0 for f in self._pos().files)

    def _destroy(self, path: Path, ids: list[int]) -> None:
        """``path``'s unread lines are about to be destroyed: was it read from?"""
        target = self.reportable if self._read_from(path) else self.lossable
        target.update(self._undelivered(ids))

    def _unlink(self, path: Path) -> None:
        self.tombs.append(os.open(path, os.O_RDONLY))
        os.unlink(path)

    def _shift_siblings(self) -> None:
        """log.N → log.N+1 (plain or gz); the one past KEEP is deleted."""
        for n in range(KEEP, 0, -1):
            for suffix in ("", ".gz"):
                src = self.dir / f"{self.path.name}.{n}{suffix}"
                if not src.exists():
                    continue
                if n == KEEP:
                    self._destroy(src, self.files.pop(src.name, []))
                    self._unlink(src)
                else:
                    dst = self.dir / f"{self.path.name}.{n + 1}{suffix}"
                    os.rename(src, dst)
                    self.files[dst.name] = self.files.pop(src.name, [])

    @rule()
    def rename_rotate(self) -> None:
        self._finish_partial()
        self._shift_siblings()
        first = self.dir / f"{self.path.name}.1"
        os.rename(self.path, first)
        self.files[first.name] = self.files.pop(self.path.name)
        self.path.touch()
        self.files[self.path.name] = []

    @rule()
    def copytruncate(self) -> None:
        self.copied_since_poll = self.copied_since_checkpoint = True
        self._finish_partial()
        self._shift_siblings()
        first = self.dir / f"{self.path.name}.1"
        if not self._read_from(self.path):
            self.lossable |= self._undelivered(self.files[self.path.name])
        shutil.copyfile(self.path, first)
        self.files[first.name] = list(self.files[self.path.name])
        if self.files[first.name]:
            self.gen_of_key[_key(first)] = self.generation[self.files[first.name][0]]
        with open(self.path, "r+b") as fh:
            fh.truncate(0)
        self.files[self.path.name] = []

    @rule()
    def truncate(self) -> None:
        self._finish_partial()
        self._destroy(self.path, self.files[self.path.name])
        with open(self.path, "r+b") as fh:
            fh.truncate(0)
        self.files[self.path.name] = []

    @precondition(lambda self: not self.copied_since_poll)  # see docs/follower.md, limits
    @rule()
    def delete_and_recreate(self) -> None:
        self._finish_partial()
        held = self.started and self._read_from(self.path)
        if not held:  # only the follower's open descriptor keeps a deleted file readable
            self._destroy(self.path, self.files[self.path.name])
        self._unlink(self.path)
        self.path.touch()
        self.files[self.path.name] = []

    @rule()
    def compress_oldest(self) -> None:
        for n in range(KEEP, 1, -1):  # never .1: "delaycompress"
            src = self.dir / f"{self.path.name}.{n}"
            if src.exists():
                dst = self.dir / f"{src.name}.gz"
                with open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
                if _key(src) in self.gen_of_key:
                    self.gen_of_key[_key(dst)] = self.gen_of_key[_key(src)]
                self._unlink(src)
                self.files[dst.name] = self.files.pop(src.name)
                return

    # --- the follower -------------------------------------------------------------------

    @precondition(lambda self: self.follower is not None)
    @rule()
    def poll(self) -> None:
        assert self.follower is not None
        while True:
            batch = self.follower.poll()
            self.gaps += len(batch.gaps)
            for frame in batch.frames:
                assert frame is not OVERLONG
                self.delivered.append(int(frame[:8]))
            if not batch.more:
                break
        self.copied_since_poll = False
        self.started = True
        self.check_all_delivered()

    @precondition(lambda self: self.follower is not None)
    @rule()
    def checkpoint(self) -> None:
        """Position and what was consumed, saved together through the real store."""
        assert self.follower is not None
        self.store.save(
            {
                "position": self.follower.position.to_state(),
                "delivered": len(self.delivered),
                "gaps": self.gaps,
            }
        )
        self.ckpt = (self.follower.position, len(self.delivered), self.gaps)
        self.copied_since_checkpoint = self.copied_since_poll

    @precondition(lambda self: self.follower is not None)
    @rule()
    def crash(self) -> None:
        """The process dies: open descriptors and uncheckpointed deliveries are gone."""
        assert self.follower is not None
        self.follower.close()
        self.follower = None
        self.started = False
        self.copied_since_poll = self.copied_since_checkpoint
        loaded = CheckpointStore(self.store.path).load()
        assert loaded is not None
        position = Position.from_state(loaded.payload["position"])
        n, gaps = loaded.payload["delivered"], loaded.payload["gaps"]
        assert position == self.ckpt[0]
        self.ckpt = (position, n, gaps)
        self.delivered = self.delivered[:n]
        self.gaps = gaps
        # lines already destroyed on disk can no longer be re-read
        on_disk = {i for ids in self.files.values() for i in ids}
        known = {
            self.gen_of_key[f.key]
            for f in position.files
            if f.offset > 0 and f.key in self.gen_of_key
        }
        gone = set(self.written) - on_disk - set(self.delivered) - self.lossable
        # only losses in files the restarted follower knows of can be reported by it
        for i in gone | (self.reportable - set(self.delivered)):
            self.reportable.discard(i)
            (self.reportable if self.generation[i] in known else self.lossable).add(i)

    @precondition(lambda self: self.follower is None)
    @rule()
    def restart(self) -> None:
        self.follower = Follower(self.path, self.ckpt[0], grace_s=0)

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def exactly_once_in_order(self) -> None:
        assert all(a < b for a, b in zip(self.delivered, self.delivered[1:], strict=False)), (
            self.delivered
        )

    def check_all_delivered(self) -> None:
        missing = set(self.written) - set(self.delivered)
        assert missing <= self.lossable | self.reportable, sorted(
            missing - self.lossable - self.reportable
        )
        if missing & self.reportable:
            assert self.gaps > 0, "lines lost from a file read from, without a reported gap"
        assert set(self.delivered) <= set(self.written)


FollowerMachine.TestCase.settings = settings(
    stateful_step_count=40,
    deadline=None,
    # a thousand runs in the CI profile, a quick pass in development
    max_examples=1000 if settings.default.max_examples >= 400 else 100,
)
TestFollower = FollowerMachine.TestCase
