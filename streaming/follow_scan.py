"""Listing and opening a log's rotated set for the follower (``docs/follower.md``
§2 and §3).

:meth:`Scanner.scan` lists ``path.N[.gz]`` … ``path.1``, ``path``, oldest first,
takes only regular files, opens each once (non-blocking, so a FIFO swapped in
cannot hang it, or through a descriptor the follower already holds on the inode),
confirms with ``fstat`` that the descriptor is the inode that was listed, and then
lists the set again: a listing can be overtaken by a rotation before the files are
opened (taken after ``mv path.1 path.2``, before ``mv path path.1``, it lacks the
former live file, and every name it holds still opens), so only a second listing
that holds the same names, each still on the inode opened, shows that no file was
missed. A set that did not
hold still is listed anew a few times with short pauses; one that keeps moving is
not read (:class:`UnstableError`) until :data:`UNSTABLE_POLLS` polls in a row, then
read as listed with a warning. Files that cannot be stat'ed or opened, or are not
regular files, are *unavailable*: logged once, listed in :attr:`Scanner.spells`.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from streaming.identity import Key, inode_generation
from streaming.inputs import file_kind, is_gz, rotated_siblings

log = logging.getLogger("streaming.follow")

SCAN_RETRIES = 6
UNSTABLE_POLLS = 10  # polls in a row without a stable listing before one is read anyway


class UnstableError(Exception):
    """The rotated set kept changing while it was being listed."""


@dataclass(slots=True)
class Seen:
    """A file of the set, opened and checked: every read goes through ``fd``."""

    path: Path
    fd: int  # this poll's own descriptor, closed at its end
    key: Key
    size: int  # plain: bytes; .gz: compressed bytes
    mtime_ns: int
    live: bool
    gen: int | None = None  # the inode's generation (None where unsupported)
    gz: bool = field(init=False)

    def __post_init__(self) -> None:
        self.gz = is_gz(self.path)


@dataclass(slots=True)
class Spell:
    """A file that is unavailable, and since when (for the status and the log)."""

    path: str
    reason: str
    since: float


class Scanner:
    """Lists and opens the rotated set of ``path``; ``opener`` opens a file by name.
    Keeps the spells of unavailability and the count of unstable polls."""

    def __init__(self, path: Path, opener: Callable[[str, int], int]) -> None:
        self.path = path
        self._opener = opener
        self.spells: dict[str, Spell] = {}
        self.unstable = 0  # polls in a row whose listing did not hold still
        # where each unreadable file of the last listing stands: how many files of
        # the set returned are older than it, and its name
        self.blocked_at: dict[Key, tuple[int, Path]] = {}
        self._dir, self._prefix = str(path.parent), path.name + "."

    def scan(
        self, now: float, held: Callable[[Key], int | None]
    ) -> tuple[list[Seen], dict[Key, int]]:
        """Open the regular files of the set, oldest first, each confirmed by fstat
        to be the inode that was listed (``held`` gives a descriptor already held on
        an inode, or None); list again until the set held still. Returns them and
        the inodes present but unreadable (with their size). Raises OSError when the
        directory cannot be listed, :class:`UnstableError` when the set kept moving."""
        for attempt in range(SCAN_RETRIES):
            seen, blocked, stable = self._scan_once(now, held)
            if stable:
                self.unstable = 0
                return seen, blocked
            for s in seen:
                os.close(s.fd)
            time.sleep(0.001 * 2**attempt)  # let a rotation in progress finish
        # the set kept moving: reading a listing that missed a file could deliver
        # newer lines before older ones, so nothing is read until it holds still;
        # a set that never holds still is read anyway after a while
        self.unstable += 1
        if self.unstable < UNSTABLE_POLLS:
            raise UnstableError
        log.warning("%s: the rotated set keeps changing; read as listed", self.path)
        return self._scan_once(now, held)[:2]

    def _scan_once(
        self, now: float, held: Callable[[Key], int | None]
    ) -> tuple[list[Seen], dict[Key, int], bool]:
        seen: list[Seen] = []
        blocked: dict[Key, int] = {}
        troubled: set[str] = set()
        stable = True
        self.blocked_at = {}
        listed = rotated_siblings(self.path)
        names = [*reversed(listed), self.path]
        self.spells.pop(str(self.path.parent), None)  # listed again
        for p in names:
            live = p is self.path  # the one name not from the listing (cheaper than ==)
            try:
                st = os.stat(p)
            except FileNotFoundError:
                stable = stable and live  # a listed name gone: list again
                continue
            except OSError as exc:
                troubled.add(self.spell(p, exc.strerror or str(exc), now))
                continue
            if not stat.S_ISREG(st.st_mode):
                troubled.add(self.spell(p, file_kind(st.st_mode), now))
                continue
            key = (st.st_dev, st.st_ino)
            twin = next((s for s in seen if s.key == key), None)
            if twin is not None:  # one inode under two names (a hard link): read it once
                twin.live = twin.live or live
                continue
            fd_held = held(key)
            try:
                if fd_held is not None:
                    fd = os.dup(fd_held)
                else:
                    fd = self._opener(str(p), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except FileNotFoundError:
                stable = False
                continue
            except OSError as exc:
                blocked[key] = st.st_size  # present, unreadable: its size is all we know
                self.blocked_at[key] = (len(seen), p)
                troubled.add(self.spell(p, exc.strerror or str(exc), now))
                continue
            fst = os.fstat(fd)
            if (fst.st_dev, fst.st_ino) != key or not stat.S_ISREG(fst.st_mode):
                os.close(fd)
                stable = False
                continue
            seen.append(Seen(p, fd, key, fst.st_size, fst.st_mtime_ns, live, inode_generation(fd)))
        for name in [n for n in self.spells if n not in troubled]:
            del self.spells[name]
            log.info("%s is available again", name)
        # a listing overtaken by a rotation may lack a file while every name in it
        # still opens, and reading the set without that file delivers newer lines
        # first. So the set must be listed alike again once every file is open, and
        # each name still be the inode opened (checked after the second listing)
        if stable:
            stable = self._listed_alike(listed) and all(_key_of(s.path) == s.key for s in seen)
        return seen, blocked, stable

    def _listed_alike(self, listed: list[Path]) -> bool:
        """Does a listing now hold the rotated names of ``listed``, and no other? The
        directory's names are compared first (cheap: every rotated name is the live
        name, a dot and more); :func:`rotated_siblings` judges only when other names
        of that form are there too (``log.old``, a compressor's temporary file)."""
        prefix = self._prefix
        try:
            names = {n for n in os.listdir(self._dir) if n.startswith(prefix)}
        except OSError:
            return False
        rotated = {p.name for p in listed}
        if names == rotated:
            return True
        return rotated <= names and rotated_siblings(self.path) == listed

    def spell(self, path: Path, reason: str, now: float) -> str:
        """``path`` is unavailable for ``reason``: logged once per reason."""
        name = str(path)
        spell = self.spells.get(name)
        if spell is None or spell.reason != reason:
            self.spells[name] = Spell(name, reason, now)
            log.warning("%s is unavailable (%s); keeping its position", name, reason)
        return name


def _key_of(path: Path) -> Key | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
