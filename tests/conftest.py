"""Suite-wide fixtures: every test gets its own INFERCTL_HOME, so nothing touches the user's ~/.inferctl."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as a terminal delivers it, for the commands tests start and interrupt. A shell that runs the suite
    in the background (``scripts/test &``, nohup, some CI runners) starts it with SIGINT ignored, and an ignored
    signal stays ignored in every child: ``inferctl status --watch`` would never see the tests' SIGINT. A handler
    here is reset to the default in each child at exec, so Python's KeyboardInterrupt works there again."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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
