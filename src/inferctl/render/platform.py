"""Everything a cluster gets for one config, in apply order, and the checks ``plan``, ``render`` and ``up`` share.

A config that cannot be rendered is refused where it is rendered: each renderer raises what it cannot render
(ConfigError / PlanError, one line naming the fix). :func:`check_platform` runs exactly that, so ``plan`` refuses
every config ``render`` and ``up`` refuse, with the same words, and ``up --target aws`` refuses it before
preflight and before Pulumi creates anything.
"""

from __future__ import annotations

from collections.abc import Mapping

from inferctl.config.models import PlatformConfig
from inferctl.errors import PlanError
from inferctl.render.autoscaling import check_prometheus_configured, render_autoscaling, without_fixed_replicas
from inferctl.render.exposure import render_exposure
from inferctl.render.gateway import render_gateway
from inferctl.render.karpenter import render_karpenter
from inferctl.render.meta import SYSTEM_NAMESPACES, Object, render_namespace
from inferctl.render.model_cache import render_model_cache
from inferctl.render.observability import render_observability
from inferctl.render.order import sort_for_apply
from inferctl.render.secrets import SecretValues, render_secrets
from inferctl.render.workload import render_workload
from inferctl.sizing.placement import Placement


def render_platform(
    config: PlatformConfig,
    placements: Mapping[str, Placement],
    *,
    secret_values: SecretValues | Mapping[str, str | None] | None = None,
    include_karpenter: bool | None = None,
) -> list[Object]:
    """Every object of the platform, in apply order: namespace, the gateway's identity, secrets, config maps,
    claims, Karpenter pools, policies, services, deployments, routes and scalers, monitors.

    ``placements`` maps each model name to its sizing result. ``secret_values`` None (the default) renders the
    secrets without data. ``include_karpenter`` None follows ``config.uses_karpenter``; a caller that manages the
    pools elsewhere (the Pulumi program, from :func:`render_karpenter`) passes False.
    """
    check_prometheus_configured(config)
    karpenter = config.uses_karpenter
    objects: list[Object] = []
    if config.kubernetes.namespace not in SYSTEM_NAMESPACES:  # never relabel default, kube-system...
        objects.append(render_namespace(config, on_aws=config.traits.owns_infrastructure))
    objects += render_secrets(config, secret_values)
    objects += render_observability(config)
    if karpenter if include_karpenter is None else include_karpenter:
        objects += render_karpenter(config)
    objects += render_model_cache(config, dict(placements), karpenter=karpenter)
    for index, model in enumerate(config.models):
        placement = placements.get(model.name)
        if placement is None:
            raise PlanError(f"no placement for model {model.name!r}; run 'inferctl plan' to size it")
        workload = render_workload(config, model, placement, index=index, karpenter=karpenter)
        if model.autoscaling is not None:  # KEDA owns the replica count; a model at zero wakes through its route
            workload = [without_fixed_replicas(o) if o["kind"] == "Deployment" else o for o in workload]
        objects += workload
        objects += render_exposure(config, model)
        objects += render_autoscaling(config, model, placement)
    objects += render_gateway(config, placements)  # the one entry, in front of every model
    return sort_for_apply(objects)


def check_platform(config: PlatformConfig, placements: Mapping[str, Placement]) -> None:
    """Refuse, before anything exists, every config that :func:`render_platform` refuses (the renderers are the
    checks: a refusal added to one of them reaches ``plan`` and ``up`` without a second list to keep)."""
    render_platform(config, placements)
