"""An exclusive lock on a file, for work that one inferctl at a time may do on this machine.

``flock`` belongs to the open file, so the kernel drops it when its holder exits, however it ends: a killed
command leaves no stale lock for the next one to clear.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive_lock(path: Path, *, when_held: Callable[[], None]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created 0600) for the ``with`` block. When another process holds it,
    ``when_held`` runs first: it raises to refuse at once, or returns (having said so) to wait for the lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            when_held()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
