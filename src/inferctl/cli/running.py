"""Commands follow what is running: on the local target the running state, not the config, names the model.

After ``inferctl up --model ./dir``, ``chat``, ``bench``, ``status``, ``endpoint`` and ``logs`` without flags use
that model; a ``--model`` naming another one is a one-line error (exit 2) instead of a silent mismatch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferctl.cli.common import demo_notice

if TYPE_CHECKING:
    from inferctl.config.models import ModelDeployment, PlatformConfig
    from inferctl.targets.base import Target
    from inferctl.targets.local.state import LocalState


def follow_running(platform: Target, requested: str | None) -> LocalState | None:
    """The local target's running state (checked against ``--model``); None elsewhere or when stopped."""
    from inferctl.targets.local import LocalTarget

    if isinstance(platform, LocalTarget):
        return platform.serving(requested)
    return None


def running_deployments(config: PlatformConfig, state: LocalState | None) -> list[ModelDeployment]:
    """The deployments that answer: the running one when known, else the config's."""
    from inferctl.targets.local import LocalTarget

    return [LocalTarget.deployment_of(state)] if state is not None else list(config.models)


def notice_for_running(config: PlatformConfig, state: LocalState | None) -> None:
    """The random-weights notice, only when the model that answers is the demo."""
    demo_notice(running_deployments(config, state))
