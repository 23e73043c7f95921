"""Autoscaling on target kubernetes: refusing it, before any change, on a cluster without KEDA or the HTTP add-on
(naming the Helm command), applying the KEDA objects where they belong, and ``status``'s scaler view.

Everything is real (sizing, renderers, lightkube) except the API server: :class:`tests.support.kube.FakeCluster`
at lightkube's HTTP transport (no API server runs here). ScaledObject conditions and the HPA status fields are
KEDA v2.20.2's (``kedacore/keda``, ``apis/keda/v1alpha1/condition_types.go``, ``scaledobject_types.go``:
``status.hpaName``) and ``autoscaling/v2``'s; the event reason ``KEDAScaleTargetActivated`` is KEDA's
(``pkg/eventreason/eventreason.go``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inferctl.config.models import PlatformConfig
from inferctl.errors import ConfigError, UserError
from inferctl.home import Home
from inferctl.targets.kubernetes import KubernetesTarget
from tests.support.kube import FakeCluster, RecordingReporter, kubeconfig, make_pod, serve, set_rollout, stepping_poller

NS = "inferctl"
PROMETHEUS = "http://prometheus-server.monitoring.svc"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeCluster:
    return serve(FakeCluster(), monkeypatch, tmp_path)


def config(tmp_path: Path, autoscaling: dict[str, Any], *, prometheus: str | None = PROMETHEUS) -> PlatformConfig:
    path = tmp_path / "kubeconfig"
    if not path.exists():
        kubeconfig(path)
    return PlatformConfig.model_validate(
        {
            "name": "genai",
            "target": "kubernetes",
            "models": [{"name": "llama", "source": "meta-llama/Meta-Llama-3-8B-Instruct", "autoscaling": autoscaling}],
            "kubernetes": {"kubeconfig": str(path)},
            "observability": {"prometheus_url": prometheus},
        }
    )


def target(cfg: PlatformConfig) -> KubernetesTarget:
    # a stepping clock: a broken wait fails on its timeout instead of hanging the test
    return KubernetesTarget(cfg, Home.from_env(), poller=stepping_poller())


def rolled_out(fake: FakeCluster) -> None:
    labels = {"inferctl.io/platform": "genai", "inferctl.io/model": "llama"}
    fake.put(make_pod("llama-1", NS, labels, node="n1", phase="Running", ready=True, container={"state": {}}))
    set_rollout(fake, "llama", NS, ready=1)


def interceptor_service(release: str = "http-add-on") -> dict[str, Any]:
    """The chart's proxy Service as Helm renders it for ``release`` (kedacore/charts c4b92e9,
    http-add-on/templates/interceptor/service-proxy.yaml and _helpers.tpl ``keda-http-add-on.matchLabels``)."""
    selector = {
        "app.kubernetes.io/component": "interceptor",
        "app.kubernetes.io/name": "http-add-on",
        "app.kubernetes.io/part-of": "keda-add-ons-http",
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/instance": release,
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "keda-add-ons-http-interceptor-proxy", "namespace": "keda"},
        "spec": {"ports": [{"name": "proxy", "port": 8080, "targetPort": "proxy"}], "selector": selector},
    }


def test_without_keda_up_names_the_helm_command_and_changes_nothing(fake: FakeCluster, tmp_path: Path) -> None:
    fake.missing_groups = {"keda.sh", "http.keda.sh"}
    with pytest.raises(UserError) as caught:
        target(config(tmp_path, {"max_replicas": 3})).up(RecordingReporter())
    assert "helm install keda kedacore/keda --version 2.20.2 --namespace keda" in caught.value.message
    assert caught.value.exit_code == 2 and "\n" not in caught.value.message
    assert fake.applied() == []


def test_scale_to_zero_without_the_http_add_on_is_refused(fake: FakeCluster, tmp_path: Path) -> None:
    fake.missing_groups = {"http.keda.sh"}
    with pytest.raises(
        UserError, match=re.escape("helm install http-add-on kedacore/keda-add-ons-http --version 0.15.0")
    ):
        target(config(tmp_path, {"min_replicas": 0})).up(RecordingReporter())
    assert fake.applied() == []
    fake.missing_groups = set()  # CRDs there, but the interceptor is not in namespace keda
    with pytest.raises(UserError, match="keda-add-ons-http-interceptor-proxy is not in namespace keda"):
        target(config(tmp_path, {"min_replicas": 0})).up(RecordingReporter())
    assert fake.applied() == []


def test_scale_to_zero_with_the_add_on_under_another_release_name_is_refused(fake: FakeCluster, tmp_path: Path) -> None:
    """A wake Service selects the interceptor pods by release name: another release would leave it with no
    endpoints, so up refuses before applying anything, in one line naming the install command."""
    fake.put(interceptor_service(release="keda-http"))
    with pytest.raises(UserError) as caught:
        target(config(tmp_path, {"min_replicas": 0})).up(RecordingReporter())
    assert "Helm release 'keda-http'" in caught.value.message and "helm install http-add-on" in caught.value.message
    assert caught.value.exit_code == 2 and "\n" not in caught.value.message
    assert fake.applied() == []


def test_min_one_needs_keda_only(fake: FakeCluster, tmp_path: Path) -> None:
    fake.missing_groups = {"http.keda.sh"}
    fake.frames = [rolled_out]
    target(config(tmp_path, {"max_replicas": 3})).up(RecordingReporter())
    assert "ScaledObject/llama" in fake.applied()
    assert not [a for a in fake.applied() if a.startswith("InterceptorRoute/")]


def test_without_a_prometheus_url_up_stops_before_connecting(fake: FakeCluster, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("set observability.prometheus_url")):
        target(config(tmp_path, {"max_replicas": 3}, prometheus=None)).up(RecordingReporter())
    assert fake.requests == []


def test_up_puts_the_wake_host_in_kedas_namespace_and_status_shows_the_scaler(
    fake: FakeCluster, tmp_path: Path
) -> None:
    fake.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keda"}, "status": {"phase": "Active"}})
    fake.put(interceptor_service())
    fake.frames = [rolled_out]
    cfg = config(tmp_path, {"min_replicas": 0, "max_replicas": 2})
    endpoints = target(cfg).up(RecordingReporter())
    applied = fake.applied()
    assert (
        applied.index("Deployment/llama")
        < applied.index("InterceptorRoute/llama-wake")
        < applied.index("ScaledObject/llama")
    )
    assert "InterceptorRoute/llama-status" in applied
    wake = fake.get("Service", "genai-llama-wake", "keda")
    assert wake is not None and wake["spec"]["type"] == "ClusterIP"
    scaled = fake.get("ScaledObject", "llama", NS)
    assert scaled is not None and scaled["spec"]["triggers"][0]["metadata"]["serverAddress"] == PROMETHEUS
    deployment = fake.get("Deployment", "llama", NS)
    assert deployment is not None and "replicas" not in deployment["spec"]
    # one entry for every model: the gateway, whose registrar posts the wake worker
    assert "kubectl port-forward -n inferctl svc/genai-gateway" in (endpoints[0].note or "")
    gateway = fake.get("Deployment", "genai-gateway", NS)
    assert gateway is not None
    registrar = next(c for c in gateway["spec"]["template"]["spec"]["containers"] if c["name"] == "wake-registrar")
    workers = next(e["value"] for e in registrar["env"] if e["name"] == "INFERCTL_WAKE_WORKERS")
    assert "http://genai-llama-wake.keda.svc:8080" in workers

    scaled["status"] = {
        "hpaName": "keda-hpa-llama",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "ScaledObjectReady"},
            {"type": "Active", "status": "False", "reason": "ScalerNotActive"},
        ],
    }
    fake.put(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "keda-hpa-llama", "namespace": NS},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "llama"}, "maxReplicas": 2},
            "status": {"currentReplicas": 0, "desiredReplicas": 0, "lastScaleTime": "2026-07-20T10:30:00Z"},
        }
    )
    fake.put(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "llama.1", "namespace": NS},
            "involvedObject": {"kind": "ScaledObject", "name": "llama", "namespace": NS},
            "reason": "KEDAScaleTargetDeactivated",
            "message": "Deactivated apps/v1.Deployment inferctl/llama from 1 to 0",
            "lastTimestamp": "2026-07-20T10:30:00Z",
        }
    )
    # Never active (no status.lastActiveTime): KEDA v2.20.2 scale_scaledobjects.go scaleToZeroOrIdle counts
    # initialCooldownPeriod from the ScaledObject's creationTimestamp, not from this up or the last request.
    (row,) = target(cfg).status().models
    created = scaled["metadata"]["creationTimestamp"]
    assert row.autoscaling["state"] == f"idle (1 replica(s) running, never used; scales to zero 15m after {created})"
    # Active False during the cooldown after use: the replica still runs, so status must not claim zero
    scaled["status"]["lastActiveTime"] = "2026-07-20T10:14:00Z"
    (row,) = target(cfg).status().models
    assert row.autoscaling["state"] == "idle (1 replica(s) running; scales to zero after the 15m cooldown)"
    deployment["spec"]["replicas"] = 0  # KEDA after the cooldown, while the pod drains
    assert target(cfg).status().models[0].autoscaling["state"] == "idle (scaling to zero: 1 replica(s) draining)"
    set_rollout(fake, "llama", NS, ready=0, replicas=0)
    (row,) = target(cfg).status().models
    assert row.autoscaling == {
        "state": "idle (scaled to zero)",
        "min": 0,
        "max": 2,
        "current_replicas": 0,
        "desired_replicas": 0,
        "last_scale_time": "2026-07-20T10:30:00Z",
        "last_event": "KEDAScaleTargetDeactivated: Deactivated apps/v1.Deployment inferctl/llama from 1 to 0",
        "last_event_time": "2026-07-20T10:30:00Z",
    }


def test_port_forward_goes_to_the_gateway_whether_the_model_sleeps_or_not(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forwarding to the model's own Service would find no pod at zero; the gateway holds the request on the
    model's wake route until it answers, and reaches an awake one directly."""
    from contextlib import contextmanager

    seen: list[tuple[str, str]] = []

    @contextmanager
    def recording(settings: Any, service: str, *, local_port: int) -> Iterator[str]:
        seen.append((settings.namespace, service))
        yield f"http://127.0.0.1:{local_port}/v1"

    monkeypatch.setattr("inferctl.kube.portforward.port_forward", recording)
    with target(config(tmp_path, {"min_replicas": 0})).port_forward() as endpoint:
        assert "svc/genai-gateway" in (endpoint.note or "") and endpoint.model == "llama"
    with target(config(tmp_path, {"min_replicas": 1})).port_forward():
        pass
    assert seen == [(NS, "genai-gateway"), (NS, "genai-gateway")]


def test_status_table_cells_show_the_scaler_record() -> None:
    from inferctl.cli.common import _cell

    assert _cell({"state": "active", "current_replicas": 2}) == "state: active, current replicas: 2"


def test_up_while_scaled_to_zero_says_so_and_asks_only_the_gateway(fake: FakeCluster, tmp_path: Path) -> None:
    fake.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keda"}, "status": {"phase": "Active"}})
    fake.put(interceptor_service())

    def at_zero(cluster: FakeCluster) -> None:
        """What KEDA leaves after scale_to_zero_after without requests (its scale writes survive a later apply
        on a real server; this fake replaces the whole spec on apply, so the frame writes it on each read)."""
        deployment = cluster.get("Deployment", "llama", NS)
        assert deployment is not None
        deployment["spec"]["replicas"] = 0
        set_rollout(cluster, "llama", NS, ready=0, replicas=0)

    fake.frames = [at_zero] * 5
    tgt = target(config(tmp_path, {"min_replicas": 0}))
    reporter = RecordingReporter()
    tgt.up(reporter)
    assert "llama is scaled to zero; its first request wakes it (see 'inferctl plan' for how long)" in reporter.infos
    # the smoke test asks the gateway's public /v1/models, which the status route answers without waking the model
    assert {r.path for r in fake.requests if "/proxy/" in r.path} == {
        f"/api/v1/namespaces/{NS}/services/genai-gateway:http/proxy/v1/models"
    }


def test_down_after_autoscaling_was_removed_from_the_config_deletes_the_scaler_and_the_wake_route(
    fake: FakeCluster, tmp_path: Path
) -> None:
    """The config no longer renders the ScaledObject, the InterceptorRoutes and the wake Service (in KEDA's
    namespace), so down must find them on the cluster, as it does a model's other objects. The platform's
    namespace is the user's here, so deleting it does not take them along."""
    for name in ("keda", NS):
        fake.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "status": {"phase": "Active"}})
    fake.put(interceptor_service())
    fake.frames = [rolled_out]
    target(config(tmp_path, {"min_replicas": 0, "max_replicas": 2})).up(RecordingReporter())
    assert fake.get("Service", "genai-llama-wake", "keda") is not None
    fake.frames = []
    plain = config(tmp_path, {"max_replicas": 2}).model_copy(deep=True)
    plain.models[0].autoscaling = None
    target(plain).down(RecordingReporter())
    assert fake.get("ScaledObject", "llama", NS) is None
    assert (
        fake.get("InterceptorRoute", "llama-wake", NS) is None
        and fake.get("InterceptorRoute", "llama-status", NS) is None
    )
    assert fake.get("Service", "genai-llama-wake", "keda") is None
    assert fake.get("Service", "keda-add-ons-http-interceptor-proxy", "keda") is not None


def test_down_without_keda_or_access_to_its_namespace_still_tears_the_model_down(
    fake: FakeCluster, tmp_path: Path
) -> None:
    fake.missing_groups = {"keda.sh", "http.keda.sh"}
    fake.forbidden_namespaces = {"keda"}
    plain = config(tmp_path, {"max_replicas": 2}).model_copy(deep=True)
    plain.models[0].autoscaling = None
    fake.frames = [rolled_out]
    target(plain).up(RecordingReporter())
    fake.frames = []
    target(plain).down(RecordingReporter())
    assert fake.get("Deployment", "llama", NS) is None


def test_up_without_autoscaling_deletes_what_scale_to_zero_left(fake: FakeCluster, tmp_path: Path) -> None:
    """A ScaledObject left behind would keep resizing the Deployment (to zero) against its fixed replica count, and
    the wake routes would keep a host for a model that no longer sleeps; up deletes them before it applies the new
    Deployment. So it does the entry Service an earlier release gave a model at zero (with its own NLB on aws)."""
    fake.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keda"}, "status": {"phase": "Active"}})
    fake.put(interceptor_service())
    fake.frames = [rolled_out]
    target(config(tmp_path, {"min_replicas": 0, "max_replicas": 2})).up(RecordingReporter())
    assert fake.get("InterceptorRoute", "llama-wake", NS) is not None
    labels = {"inferctl.io/platform": "genai", "inferctl.io/model": "llama"}
    fake.put(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "genai-llama", "namespace": "keda", "labels": labels},
            "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/component": "interceptor"}},
        }
    )
    fake.frames = [rolled_out]
    target(config(tmp_path, {"min_replicas": 1, "max_replicas": 2})).up(RecordingReporter())
    assert fake.get("ScaledObject", "llama", NS) is not None  # min 1 still autoscales
    assert (
        fake.get("InterceptorRoute", "llama-wake", NS) is None
        and fake.get("InterceptorRoute", "llama-status", NS) is None
    )
    assert fake.get("Service", "genai-llama-wake", "keda") is None
    assert fake.get("Service", "genai-llama", "keda") is None  # the earlier release's entry
    plain = config(tmp_path, {"max_replicas": 2}).model_copy(deep=True)
    plain.models[0].autoscaling = None
    fake.frames = [rolled_out]
    reporter = RecordingReporter()
    target(plain).up(reporter)
    assert fake.get("ScaledObject", "llama", NS) is None
    assert "ScaledObject inferctl/llama is no longer in the config: deleting it" in reporter.infos
    deployment = fake.get("Deployment", "llama", NS)
    assert deployment is not None and deployment["spec"]["replicas"] == 1
    assert fake.get("Service", "keda-add-ons-http-interceptor-proxy", "keda") is not None
