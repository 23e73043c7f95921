"""Suite-wide fixtures: every test gets its own INFERCTL_HOME, so nothing touches the user's ~/.inferctl."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("inferctl-home")
    monkeypatch.setenv("INFERCTL_HOME", str(home))
    monkeypatch.delenv("INFERCTL_API_KEY", raising=False)
    yield home


def shared_dir(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when the folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared project files (../shared next to the repo) are needed")
    return path
