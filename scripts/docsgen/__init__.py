"""The generated pages of the documentation site: each page, the module that writes it, and the check.

``scripts/docs --write`` regenerates them; ``scripts/docs --check`` (run by scripts/test) fails when a committed
page differs from what its generator produces now, naming the page and how to fix it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pages() -> dict[str, Callable[[], str]]:
    """Page (relative to the repository) -> its generator."""
    from scripts.docsgen import (
        cli_reference,
        config_reference,
        measurements,
        rendered_reference,
        troubleshooting,
    )

    return {
        "docs/reference/cli.md": cli_reference.generate,
        "docs/reference/config.md": config_reference.generate,
        "docs/reference/rendered.md": rendered_reference.generate,
        "docs/troubleshooting.md": troubleshooting.generate,
        "docs/measurements.md": measurements.generate,
    }


def stale_pages() -> list[str]:
    """The pages whose committed text differs from what their generator writes now."""
    return [page for page, generate in pages().items() if _read(page) != _normalise(generate())]


def write_pages() -> list[str]:
    """Regenerate every page; returns the ones that changed."""
    changed = []
    for page, generate in pages().items():
        text = _normalise(generate())
        if _read(page) != text:
            path = REPO / page
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(page)
    return changed


def _normalise(text: str) -> str:
    """One trailing newline and no trailing spaces, as the repository's files keep them."""
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines()) + "\n"


def _read(page: str) -> str | None:
    path = REPO / page
    return path.read_text(encoding="utf-8") if path.is_file() else None
