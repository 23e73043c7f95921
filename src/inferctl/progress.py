"""The progress protocol: how work that takes time says what it is doing, without printing.

It sits at the bottom of the package (it imports nothing of inferctl) so that every layer that waits (kube/, aws/,
cache/, targets/) can report through it without importing a layer above. The CLI implements it with rich.
"""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Progress sink. ``phase`` replaces the current live line; ``info``/``warn`` print a permanent line."""

    def phase(self, name: str, detail: str = "") -> None: ...

    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...


class NullReporter:
    """A reporter that drops everything (library use, tests)."""

    def phase(self, name: str, detail: str = "") -> None:
        return None

    def info(self, message: str) -> None:
        return None

    def warn(self, message: str) -> None:
        return None
