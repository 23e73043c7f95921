"""A failed refresh of a live view, as one line."""

from __future__ import annotations

from inferctl.errors import InferctlError


def one_line(exc: BaseException) -> str:
    """An exception as one line: inferctl's own message (it names the fix), else the type and its text."""
    text = exc.message if isinstance(exc, InferctlError) else f"{type(exc).__name__}: {exc}".rstrip(": ")
    return " ".join(text.split())


__all__ = ["one_line"]
