"""The example specs of examples/, one per seed source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


def example_paths() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.yaml"))


def load_spec(path: str | Path) -> Any:
    return yaml.safe_load(Path(path).read_text())


def example(prefix: str) -> dict[str, Any]:
    """The example whose file name starts with `prefix` (e.g. "004"), freshly parsed."""
    return load_spec(next(p for p in example_paths() if p.name.startswith(prefix)))


def all_examples() -> list[dict[str, Any]]:
    return [load_spec(p) for p in example_paths()]
