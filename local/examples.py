"""The example specs of examples/, one per seed source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


def example_paths() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.yaml"))


def read_file(path: str | Path) -> bytes:
    """At most one byte more than a spec document may hold, so a huge file is refused, not read."""
    from aepflow.spec.document import MAX_DOCUMENT_BYTES

    with open(path, "rb") as fh:
        return fh.read(MAX_DOCUMENT_BYTES + 1)


def load_spec(path: str | Path) -> dict[str, Any]:
    """A spec file through the one way in for documents (aepflow.document.read)."""
    from aepflow.spec import document

    return document.read(read_file(path), json_only=str(path).lower().endswith(".json"))


def example(prefix: str) -> dict[str, Any]:
    """The example whose file name starts with `prefix` (e.g. "004"), freshly parsed."""
    return load_spec(next(p for p in example_paths() if p.name.startswith(prefix)))


def all_examples() -> list[dict[str, Any]]:
    return [load_spec(p) for p in example_paths()]
