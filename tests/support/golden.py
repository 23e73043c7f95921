"""Golden files: compare rendered text with a checked-in file; ``UPDATE_GOLDEN=1`` rewrites it."""

from __future__ import annotations

import os
from pathlib import Path


def assert_matches_golden(path: Path, text: str) -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing; create it with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} changed; if intended, regenerate (UPDATE_GOLDEN=1)"
