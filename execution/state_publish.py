"""State publishing: every ``logs/state/*.json`` document is written atomically.

One writer (:func:`write_state`) serves every document: the JSON is encoded with
sorted keys, indented for people (the large intel documents compact), and
replaced atomically (temp file, fsync,
rename, fsync directory), so the dashboard never reads a partial file. JSONL
histories get whole-line appends.

>>> import tempfile, json
>>> d = tempfile.mkdtemp()
>>> p = write_state(d, "nav.json", {"nav_usd": 100.0})
>>> json.loads(p.read_text())
{'nav_usd': 100.0}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from execution.utils.metrics import JsonlAppendWriter
from streaming.atomic import atomic_write_bytes
from streaming.faults import crash_point
from streaming.jsonsafe import check_finite

DEFAULT_STATE_DIR = Path("logs/state")
STATE_FILES = ("nav.json", "positions.json", "router_health.json", "universe.json")
EXPECTANCY_FILE = "expectancy_v6.json"
SCORES_FILE = "symbol_scores_v6.json"


def encode_document(
    doc: Mapping[str, Any], *, indent: int | None = 2, checked: bool = False
) -> bytes:
    """Deterministic JSON (sorted keys), indented for people unless ``indent`` is
    None; refuses NaN and infinities (unless the caller ``checked`` them)."""
    if not checked:
        check_finite(doc)
    raw = msgspec.json.encode(doc, order="sorted")
    return (raw if indent is None else msgspec.json.format(raw, indent=indent)) + b"\n"


def write_state(
    state_dir: str | Path,
    name: str,
    doc: Mapping[str, Any],
    *,
    indent: int | None = 2,
    checked: bool = False,
) -> Path:
    """Atomically write one state document; returns its path."""
    path = Path(state_dir) / name
    atomic_write_bytes(path, encode_document(doc, indent=indent, checked=checked))
    return path


def append_history(state_dir: str | Path, name: str, record: Mapping[str, Any]) -> None:
    """Append one record to a JSONL history next to the state documents."""
    check_finite(record)
    with JsonlAppendWriter(Path(state_dir) / name) as w:
        w.write_bytes(msgspec.json.encode(record, order="sorted") + b"\n")


def publish_intel(
    state_dir: str | Path, expectancy: Mapping[str, Any], scores: Mapping[str, Any]
) -> tuple[Path, Path]:
    """Write ``expectancy_v6.json`` then ``symbol_scores_v6.json``, each atomically;
    compact, since they are read by programs and grow with symbols × windows.

    The figures under ``windows`` are finite by construction (every float passes
    ``isfinite`` in :func:`execution.intel.figures.figures` or becomes null with a
    reason), so only the rest of the expectancy document is walked for NaN."""
    check_finite({k: v for k, v in expectancy.items() if k != "windows"})
    first = write_state(state_dir, EXPECTANCY_FILE, expectancy, indent=None, checked=True)
    crash_point("publish.between_documents")
    return first, write_state(state_dir, SCORES_FILE, scores, indent=None)


def read_state(state_dir: str | Path, name: str) -> dict[str, Any] | None:
    """A state document as a dict, or None when it is missing, unreadable or not a
    JSON object (callers treat every such case as "no input")."""
    try:
        doc = msgspec.json.decode((Path(state_dir) / name).read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    return doc if isinstance(doc, dict) else None
