"""Commands follow what is running: on the local target the running state, not the config, names the models.

The local platform serves every model behind one gateway. ``chat``, ``bench`` and ``logs`` talk to one of them:
``--model`` picks it (its name, served name, source or directory); without it, the only one, or a one-line error
listing the names to choose from. ``status`` and ``endpoint`` show all of them, or the one ``--model`` names. A
``--model`` naming a model that does not run is a one-line error (exit 2) instead of a silent mismatch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferctl.cli.common import demo_notice

if TYPE_CHECKING:
    from inferctl.config.models import ModelDeployment, PlatformConfig
    from inferctl.targets.base import Target
    from inferctl.targets.local.reading import ServedModel


def follow_running(
    platform: Target, requested: str | None, *, one: bool = True, ready: bool = True
) -> ServedModel | None:
    """The local target's running model that ``requested`` names (``one``: without ``--model``, the only one;
    ``ready``: it must answer). None on other targets, when nothing runs, or (``one`` False) without ``--model``."""
    from inferctl.targets.local import LocalTarget

    if isinstance(platform, LocalTarget):
        return platform.select(requested, choose=one, ready=ready)
    return None


def running_deployments(config: PlatformConfig, served: ServedModel | None) -> list[ModelDeployment]:
    """The deployments that answer: the running one when known, else the config's."""
    return [served.deployment] if served is not None else list(config.models)


def notice_for_running(config: PlatformConfig, served: ServedModel | None) -> None:
    """The random-weights notice, only when the model that answers is the demo."""
    demo_notice(running_deployments(config, served))
