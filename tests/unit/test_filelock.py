"""inferctl.filelock.exclusive_lock, the lock under the local platform's up/down (refuses a second one at once) and
the starter model's preparation (a second one waits its turn), and both callers' words when the lock is held."""

from __future__ import annotations

import stat
import threading
import time
from pathlib import Path

import pytest

from inferctl.errors import ConflictError
from inferctl.filelock import exclusive_lock
from inferctl.home import Home
from inferctl.starter_model import ensure_starter_model, starter_model_dir
from inferctl.targets.local.state import platform_lock
from tests.support.kube import RecordingReporter


def _never_called() -> None:
    raise AssertionError("the lock was free")


def test_a_free_lock_is_taken_at_once_in_a_0600_file(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with exclusive_lock(path, when_held=_never_called):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with exclusive_lock(path, when_held=_never_called):  # released by the first block
        pass


def test_a_held_lock_refuses_when_the_caller_raises(tmp_path: Path) -> None:
    path = tmp_path / "lock"

    def refuse() -> None:
        raise ConflictError("busy")

    held = exclusive_lock(path, when_held=_never_called)
    with held, pytest.raises(ConflictError, match="busy"), exclusive_lock(path, when_held=refuse):
        raise AssertionError("entered a held lock")


def test_a_held_lock_is_waited_for_when_the_caller_returns(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    said: list[str] = []
    entered = threading.Event()

    def second() -> None:
        with exclusive_lock(path, when_held=lambda: said.append("waiting")):
            entered.set()

    with exclusive_lock(path, when_held=_never_called):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.2)
        assert said == ["waiting"] and not entered.is_set()
    thread.join(timeout=10)
    assert entered.is_set()


def test_a_second_platform_lock_is_a_conflict_that_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with platform_lock(path, "demo"), pytest.raises(ConflictError) as caught, platform_lock(path, "demo"):
        raise AssertionError("entered a held lock")
    assert str(caught.value) == (
        "another inferctl command is starting or stopping platform 'demo'; "
        "wait for it to finish, or check 'inferctl status'"
    )
    assert caught.value.__suppress_context__  # one sentence, not the BlockingIOError behind it


def test_the_starter_preparation_waits_for_another_and_reuses_its_result(isolated_home: Path) -> None:
    home = Home.from_env()
    target = starter_model_dir(home)
    home.ensure(home.cache)
    reporter = RecordingReporter()
    with exclusive_lock(home.cache / f"{target.name}.lock", when_held=_never_called):
        # The other preparation finishes while it holds the lock; this one waits, then finds the result.
        result: list[Path] = []
        thread = threading.Thread(target=lambda: result.append(ensure_starter_model(home, reporter)))
        thread.start()
        time.sleep(0.2)
        assert not result
        target.mkdir(parents=True)
        (target / "COMPLETE").write_text("1\n", encoding="utf-8")
    thread.join(timeout=10)
    assert result == [target]
    assert ("waiting", "another inferctl is preparing the starter model") in reporter.phases
