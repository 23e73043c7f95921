"""KEDA and the HTTP add-on on a live cluster: are they installed, and what is the scaler doing (for ``status``).

Facts from upstream: KEDA's ScaledObject status (``kedacore/keda`` v2.20.2, ``apis/keda/v1alpha1``:
``status.conditions`` of types ``Ready``, ``Active``, ``Fallback``, ``Paused``; ``status.hpaName``), the HPA
KEDA creates (``autoscaling/v2``: ``status.currentReplicas``, ``desiredReplicas``, ``lastScaleTime``), and the
HTTP add-on's interceptor proxy Service (``kedacore/charts`` c4b92e9, ``http-add-on/templates/interceptor/
service-proxy.yaml``: ``<chart>-<interceptor.proxy.service>`` = ``keda-add-ons-http-interceptor-proxy``).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import UserError
from inferctl.kube.client import KubeClient
from inferctl.kube.objects import Object, identity
from inferctl.kube_names import APP_INSTANCE, LABEL_MODEL, LABEL_PLATFORM
from inferctl.render.autoscaling import (
    HTTP_ADDON_CHART,
    HTTP_ADDON_RELEASE,
    INTERCEPTOR_SELECTOR,
    KEDA_NAMESPACE,
    autoscaled,
    sleeping_models,
)

KEDA_INSTALL = (
    "helm repo add kedacore https://kedacore.github.io/charts && "
    f"helm install keda kedacore/keda --version 2.20.2 --namespace {KEDA_NAMESPACE} --create-namespace"
)
HTTP_ADDON_INSTALL = (
    f"helm install {HTTP_ADDON_RELEASE} kedacore/{HTTP_ADDON_CHART} --version 0.15.0 --namespace {KEDA_NAMESPACE}"
)
INTERCEPTOR_PROXY_SERVICE = f"{HTTP_ADDON_CHART}-interceptor-proxy"


def check_autoscalers_installed(client: KubeClient, config: PlatformConfig) -> None:
    """Refuse autoscaling config, before anything is applied, on a cluster without KEDA (or, for a model that
    scales to zero, without the HTTP add-on in KEDA's namespace), naming the Helm command that installs it."""
    if not autoscaled(config):
        return
    if not client.serves("keda.sh/v1alpha1", "ScaledObject"):
        raise UserError(
            f"models[].autoscaling needs KEDA, which this cluster lacks (no ScaledObject CRD); install it: "
            f"{KEDA_INSTALL}; or remove autoscaling"
        )
    if not sleeping_models(config):
        return
    if not client.serves("http.keda.sh/v1beta1", "InterceptorRoute"):
        raise UserError(
            f"autoscaling.min_replicas 0 needs the KEDA HTTP add-on v0.15, which this cluster lacks (no "
            f"InterceptorRoute CRD); install it: {HTTP_ADDON_INSTALL}; or set min_replicas to 1"
        )
    proxy = client.get("v1", "Service", INTERCEPTOR_PROXY_SERVICE, namespace=KEDA_NAMESPACE)
    if proxy is None:
        raise UserError(
            f"the KEDA HTTP add-on is installed but its Service {INTERCEPTOR_PROXY_SERVICE} is not in namespace "
            f"{KEDA_NAMESPACE}, where inferctl puts the wake routes of models at zero; install it there: "
            f"{HTTP_ADDON_INSTALL}"
        )
    # A wake Service selects the interceptor pods by the chart's labels, which include the Helm release name
    # (chart _helpers.tpl matchLabels); the proxy Service carries the same selector. Another release name would
    # leave the wake Services with no endpoints, so every request to a sleeping model would fail.
    selector = (proxy.get("spec") or {}).get("selector") or {}
    if selector != INTERCEPTOR_SELECTOR:
        release = selector.get(APP_INSTANCE, "?")
        raise UserError(
            f"the KEDA HTTP add-on in namespace {KEDA_NAMESPACE} is Helm release {release!r}, but inferctl's wake "
            f"routes to models at zero select release {HTTP_ADDON_RELEASE!r}; reinstall it as that release: "
            f"{HTTP_ADDON_INSTALL}"
        )


def _condition(obj: Object, kind: str) -> dict[str, Any]:
    conditions = obj.get("status", {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), {})


def _idle_at_zero_state(client: KubeClient, scaled: Object, cooldown: str) -> str:
    """Active False means no trigger asks for load, not that the replicas are gone: KEDA scales 1 -> 0 only once
    ``cooldownPeriod`` has passed since the last activity, or, while the ScaledObject was never active (no
    ``status.lastActiveTime``), ``initialCooldownPeriod`` after the ScaledObject's creation (kedacore/keda v2.20.2
    ``pkg/scaling/executor/scale_scaledobjects.go``, ``scaleToZeroOrIdle``): a later ``up`` does not restart that.
    Zero is the Deployment's own count (``status.replicas``: its pods not yet terminating; ``spec.replicas``: what
    KEDA last set through the scale subresource)."""
    name = str(scaled.get("spec", {}).get("scaleTargetRef", {}).get("name") or scaled["metadata"]["name"])
    deployment = client.get("apps/v1", "Deployment", name) or {}
    running = int((deployment.get("status") or {}).get("replicas") or 0)
    if running == 0:
        return "idle (scaled to zero)"
    if (deployment.get("spec") or {}).get("replicas") == 0:
        return f"idle (scaling to zero: {running} replica(s) draining)"
    if not (scaled.get("status") or {}).get("lastActiveTime"):
        created = scaled.get("metadata", {}).get("creationTimestamp") or "its creation"
        return f"idle ({running} replica(s) running, never used; scales to zero {cooldown} after {created})"
    return f"idle ({running} replica(s) running; scales to zero after the {cooldown} cooldown)"


def scaler_view(client: KubeClient, model: ModelDeployment) -> dict[str, Any] | None:
    """For ``status``: current and desired replicas, the scaler's state (KEDA's Ready/Active conditions) and the
    last scale event, from the ScaledObject and the HPA KEDA made for it. None for a model without autoscaling."""
    settings = model.autoscaling
    if settings is None:
        return None
    bounds = {"min": settings.min_replicas, "max": settings.max_replicas}
    scaled = client.get("keda.sh/v1alpha1", "ScaledObject", model.name)
    if scaled is None:
        return {"state": "no ScaledObject (run 'inferctl up')", **bounds}
    ready, active = _condition(scaled, "Ready"), _condition(scaled, "Active")
    if ready.get("status") != "True":
        state = f"not ready: {ready.get('message') or ready.get('reason') or 'waiting for KEDA'}"
    elif active.get("status") == "True":
        state = "active"
    elif settings.scales_to_zero:
        state = _idle_at_zero_state(client, scaled, settings.scale_to_zero_after)
    else:
        state = "idle"
    view: dict[str, Any] = {"state": state, **bounds}
    hpa_name = scaled.get("status", {}).get("hpaName")
    hpa = client.get("autoscaling/v2", "HorizontalPodAutoscaler", hpa_name) if hpa_name else None
    if hpa is not None:
        status = hpa.get("status", {})
        view["current_replicas"] = int(status.get("currentReplicas") or 0)
        view["desired_replicas"] = int(status.get("desiredReplicas") or 0)
        view["last_scale_time"] = status.get("lastScaleTime")
    events = client.list(
        "v1", "Event", fields={"involvedObject.name": model.name, "involvedObject.kind": "ScaledObject"}
    )
    if events:
        last = max(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        view["last_event"] = f"{last.get('reason', '')}: {last.get('message', '')}".strip(": ")
        view["last_event_time"] = last.get("lastTimestamp") or last.get("eventTime")
    return view


# The objects render.autoscaling makes, by where they live: the platform's namespace, or KEDA's (the wake Services).
AUTOSCALING_KINDS = (("keda.sh/v1alpha1", "ScaledObject"), ("http.keda.sh/v1beta1", "InterceptorRoute"))


def live_autoscaling_objects(client: KubeClient, config: PlatformConfig) -> list[Object]:
    """The platform's ScaledObjects, InterceptorRoutes and wake Services on the cluster, of this config's models.
    Kinds the cluster lacks and a KEDA namespace these credentials may not read list as empty."""
    selector = {LABEL_PLATFORM: config.name}
    live: list[Object] = []
    for api_version, kind in AUTOSCALING_KINDS:
        live += client.list(api_version, kind, labels=selector, missing_ok=True)
    with suppress(UserError):  # 403: credentials scoped to the platform's namespace
        live += client.list("v1", "Service", namespace=KEDA_NAMESPACE, labels=selector)
    names = {m.name for m in config.models}
    return [o for o in live if (o.get("metadata", {}).get("labels") or {}).get(LABEL_MODEL) in names]


def stale_autoscaling_objects(client: KubeClient, config: PlatformConfig, rendered: list[Object]) -> list[Object]:
    """Autoscaling objects a previous ``up`` made that this config no longer renders: a ScaledObject left behind
    keeps resizing a Deployment that now has a fixed replica count; a route or a wake Service of a model that no
    longer sleeps (or of an earlier release's names: the entry Services with their own load balancers) goes too."""
    wanted = {identity(o) for o in rendered}
    return [o for o in live_autoscaling_objects(client, config) if identity(o) not in wanted]
