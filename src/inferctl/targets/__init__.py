"""Targets: where models run. ``target_for`` imports only the chosen one (heavy dependencies stay lazy)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from inferctl.home import Home
from inferctl.progress import NullReporter, Reporter
from inferctl.targets.base import (
    Endpoint,
    LogsCapability,
    ModelMetricsCapability,
    NodesCapability,
    PortForwardCapability,
    Target,
)
from inferctl.traits import TARGETS

if TYPE_CHECKING:
    from inferctl.config.models import ModelDeployment, PlatformConfig


def target_class(name: str) -> type[Target]:
    if name == "local":
        from inferctl.targets.local import LocalTarget

        return LocalTarget
    if name == "kubernetes":
        from inferctl.targets.kubernetes import KubernetesTarget

        return KubernetesTarget
    if name == "aws":
        from inferctl.targets.aws import AwsTarget

        return AwsTarget
    raise ValueError(f"unknown target {name!r}")


def target_for(
    config: PlatformConfig,
    home: Home | None = None,
    *,
    assume_yes: bool = False,
    confirm: Callable[[str], bool] | None = None,
    platform_models: Sequence[ModelDeployment] | None = None,
) -> Target:
    """The target of ``config``; ``platform_models``: every model of the platform when ``config.models`` is a
    selection of them (see :class:`Target`)."""
    return target_class(config.target)(
        config, home or Home.from_env(), assume_yes=assume_yes, confirm=confirm, platform_models=platform_models
    )


def targets_with(capability: type) -> list[str]:
    """Names of the targets that implement ``capability`` (derived from the classes, never listed by hand)."""
    names: list[str] = []
    for name in TARGETS:
        try:
            cls = target_class(name)
        except ImportError:
            continue
        if issubclass(cls, capability):
            names.append(name)
    return names


__all__ = [
    "Endpoint",
    "LogsCapability",
    "ModelMetricsCapability",
    "NodesCapability",
    "NullReporter",
    "PortForwardCapability",
    "Reporter",
    "Target",
    "target_class",
    "target_for",
    "targets_with",
]
