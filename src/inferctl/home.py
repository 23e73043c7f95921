"""The inferctl home directory (``INFERCTL_HOME``, default ``~/.inferctl``): state, secrets, caches.

Secret files are created with mode 0600 from the first byte (never written world-readable, then chmod-ed).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "INFERCTL_HOME"
API_KEY_OVERRIDE_ENV = "INFERCTL_API_KEY"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def from_env(cls) -> Home:
        raw = os.environ.get(HOME_ENV)
        return cls(Path(raw).expanduser() if raw else Path.home() / ".inferctl")

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def platform_dir(self, platform: str) -> Path:
        return self.root / "platforms" / platform

    def target_dir(self, platform: str, target: str) -> Path:
        return self.platform_dir(platform) / target

    def ensure(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def api_key_path(self, platform: str) -> Path:
        return self.platform_dir(platform) / "api-key"

    def api_key(self, platform: str, *, create: bool = True) -> str | None:
        """The platform's endpoint key: ``INFERCTL_API_KEY`` if set, else the stored one (generated on first use)."""
        override = os.environ.get(API_KEY_OVERRIDE_ENV)
        if override:
            return override
        path = self.api_key_path(platform)
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
        if not create:
            return None
        key = "sk-inferctl-" + secrets.token_urlsafe(32)
        write_secret(self.ensure(path.parent) / path.name, key)
        return key


def write_secret(path: Path, value: str) -> None:
    """Write ``value`` to ``path`` readable by the owner only (0600 from creation)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, value.encode("utf-8"))
    finally:
        os.close(fd)
    tmp.replace(path)
