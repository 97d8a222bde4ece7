"""Helpers shared by tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
SCHEMA_DIR = ROOT / "execution" / "schemas"


def load_schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text())


def event_validator() -> jsonschema.protocols.Validator:
    schema = load_schema("router_metrics_event.schema.json")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def copy_config(dst: Path) -> Path:
    """A writable copy of the repository's config directory."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in CONFIG_DIR.glob("*.json"):
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def edit_json(path: Path, edit: Any) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
