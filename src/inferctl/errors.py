"""The one error root of inferctl.

Every error a user can see derives from :class:`InferctlError` and says what to do next::

    InferctlError                  exit 1 unless a subclass says otherwise
    ├── UserError                  exit 2: bad input; nothing was created or changed
    │   ├── ConfigError            the config file or a flag is wrong (names the YAML path)
    │   ├── MissingDependencyError an optional extra or an external binary is not installed
    │   ├── ConflictError          the platform is already running, a port is taken, ...
    │   ├── NotFoundError          a model path, a context, a running platform does not exist
    │   ├── PlanError              sizing found no instance that serves the model
    │   └── StartError             the model server refused to start (quotes its reason)
    └── OperationError             exit 1: something failed while running (rollout, teardown, ...)

The CLI turns these into one red line (plus optional ``details``) and the exit code; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


class InferctlError(Exception):
    """Root of every user-facing error. ``message`` is one line that names the fix."""

    exit_code = 1

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())
        self.details = list(details or [])

    def __str__(self) -> str:
        return self.message


class UserError(InferctlError):
    """Bad input. Nothing was created, started or lost."""

    exit_code = 2


class ConfigError(UserError):
    """The config file or a command-line flag is invalid."""


class MissingDependencyError(UserError):
    """An optional extra (``inferctl[local]``, ``inferctl[aws]``...) or a binary is missing."""


class ConflictError(UserError):
    """The request conflicts with what exists: already running, port in use, lock held."""


class NotFoundError(UserError):
    """Something the request names does not exist."""


class PlanError(UserError):
    """Sizing found no placement; the message gives the numbers and the nearest fix."""


class StartError(UserError):
    """The model server exited while starting; the message quotes its reason."""


class OperationError(InferctlError):
    """A running operation failed (rollout, teardown, remote API)."""


@contextlib.contextmanager
def output_file(path: Path, option: str) -> Iterator[Path]:
    """Around writing a file the user named: its folder is made first, and an OS refusal (no such folder, no
    permission, a file in the way) becomes one line naming the option to change."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield path
    except OSError as exc:
        # mkdir of a folder that is a file says "File exists", which reads as if the output file were the problem.
        reason = f"{path.parent} is a file" if isinstance(exc, FileExistsError) else exc.strerror or exc
        raise UserError(f"cannot write {path} ({reason}); choose another {option}") from None


__all__ = [
    "ConfigError",
    "ConflictError",
    "InferctlError",
    "MissingDependencyError",
    "NotFoundError",
    "OperationError",
    "PlanError",
    "StartError",
    "UserError",
    "output_file",
]
