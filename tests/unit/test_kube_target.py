"""The Kubernetes target end to end: sizing, rendering, secrets, apply order, rollout, endpoint, smoke test,
idempotent re-apply, teardown order with finalizers, and the platform teardown that waits for Karpenter's nodes.

Everything is real (sizing from the packaged catalog, the renderers, lightkube) except the API server:
:class:`tests.support.kube.FakeCluster` at lightkube's HTTP transport, installed through
:func:`inferctl.kube.client.make_transport` (no API server runs here).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from inferctl.config.models import PlatformConfig
from inferctl.errors import OperationError
from inferctl.home import Home
from inferctl.render.order import kind_rank
from inferctl.targets.kubernetes import KubernetesTarget
from inferctl.targets.plans import PlannedObject
from tests.support.kube import (
    HF_TOKEN,
    FakeCluster,
    RecordingReporter,
    kubeconfig,
    make_node,
    make_nodeclaim,
    make_pod,
    serve,
    set_rollout,
    stepping_poller,
)

NS = "inferctl"
SELECTOR = {"inferctl.io/platform": "genai", "inferctl.io/model": "llama"}
POD = "llama-6d4cf56db6-x2x9p"
LB_HOST = "k8s-inferctl-genaigat-0123456789.elb.us-east-1.amazonaws.com"
GATEWAY = "genai-gateway"
GATEWAY_LISTS_LLAMA = (200, {"object": "list", "data": [{"id": "llama", "object": "model", "owned_by": "vllm"}]})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeCluster:
    return serve(FakeCluster(), monkeypatch, tmp_path)


def config(tmp_path: Path, *, load_balancer: bool = False, **kubernetes: Any) -> PlatformConfig:
    """The workshop's model on a cluster with Karpenter; ``load_balancer``: expose it through one."""
    path = tmp_path / "kubeconfig"
    if not path.exists():
        kubeconfig(path)
    data: dict[str, Any] = {
        "name": "genai",
        "target": "kubernetes",
        "models": [{"name": "llama", "source": "meta-llama/Meta-Llama-3-8B-Instruct"}],
        "kubernetes": {"kubeconfig": str(path), "karpenter": True, **kubernetes},
    }
    if load_balancer:
        data["endpoint"] = {"exposure": {"service_type": "LoadBalancer"}}
    return PlatformConfig.model_validate(data)


def target(cfg: PlatformConfig, *, step_s: int = 1, **kwargs: Any) -> KubernetesTarget:
    """The target with polls that cost no time: its clock advances ``step_s`` seconds per reading."""
    return KubernetesTarget(cfg, Home.from_env(), poller=stepping_poller(step_s), **kwargs)


def rolled_out(fake: FakeCluster) -> None:
    """The pod scheduled, running and ready; the Deployment available (what the controllers would write)."""
    if fake.get("Node", "ip-10-0-1-23.ec2.internal") is None:
        fake.put(
            make_node(
                "ip-10-0-1-23.ec2.internal", "g5.xlarge", nodepool="g5-gpu-karpenter", gpus=1, capacity_type="spot"
            )
        )
        fake.put(make_nodeclaim("g5-gpu-karpenter-x7k2p", "g5-gpu-karpenter", node_name="ip-10-0-1-23.ec2.internal"))
    fake.put(
        make_pod(
            POD,
            NS,
            SELECTOR,
            node="ip-10-0-1-23.ec2.internal",
            phase="Running",
            ready=True,
            requests={"cpu": "3", "memory": "9Gi", "nvidia.com/gpu": "1"},
            container={"state": {"running": {}}},
        )
    )
    set_rollout(fake, "llama", NS, ready=1)


def test_up_applies_in_kind_order_waits_and_smoke_tests(fake: FakeCluster, tmp_path: Path) -> None:
    fake.frames = [lambda f: set_rollout(f, "llama", NS, ready=0), rolled_out]
    fake.proxy[(NS, GATEWAY)] = GATEWAY_LISTS_LLAMA
    reporter = RecordingReporter()
    endpoints = target(config(tmp_path)).up(reporter)

    applied = fake.applied()
    assert applied[0] == f"Namespace/{NS}"
    ranks = [kind_rank(item.split("/")[0]) for item in applied]
    assert ranks == sorted(ranks), applied
    assert applied.index("NodePool/g5-gpu-karpenter") < applied.index("Deployment/llama")
    assert applied.index("Service/llama") < applied.index("Deployment/llama")
    assert {"Secret/hf-secret", "Secret/inferctl-api-key", "EC2NodeClass/g5-gpu-karpenter"} <= set(applied)
    # the gateway: its identity first, its Service and Deployment with the models'
    assert applied.index(f"ServiceAccount/{GATEWAY}") < applied.index(f"Role/{GATEWAY}")
    assert applied.index(f"RoleBinding/{GATEWAY}") < applied.index(f"Deployment/{GATEWAY}")
    assert all(r.query.get("fieldManager") == "inferctl" for r in fake.requests if r.method == "PATCH")

    secret = fake.get("Secret", "hf-secret", NS)
    assert secret is not None and base64.b64decode(secret["data"]["hf_api_token"]).decode() == HF_TOKEN
    api_key = Home.from_env().api_key("genai", create=False)
    assert api_key and HF_TOKEN not in reporter.text() and api_key not in reporter.text()

    assert [(e.model, e.base_url) for e in endpoints] == [("llama", "http://127.0.0.1:8000/v1")]
    assert f"kubectl port-forward -n inferctl svc/{GATEWAY} 8000:80" in (endpoints[0].note or "")
    assert "smoke test: the gateway routes llama" in reporter.infos
    proxied = [r.path for r in fake.requests if "/proxy/" in r.path]
    assert proxied == [f"/api/v1/namespaces/inferctl/services/{GATEWAY}:http/proxy/v1/models"]
    assert reporter.phase_names()[-2:] == ["ready", "smoke test"]


def test_up_twice_is_idempotent(fake: FakeCluster, tmp_path: Path) -> None:
    fake.frames = [rolled_out]
    cfg = config(tmp_path)
    target(cfg).up(RecordingReporter())
    before = {key: obj["metadata"].get("generation") for key, obj in fake.store.items()}
    first_applies = fake.applied()
    fake.requests.clear()
    target(cfg).up(RecordingReporter())
    assert fake.applied() == first_applies
    assert {key: obj["metadata"].get("generation") for key, obj in fake.store.items()} == before


def test_up_without_hf_token_keeps_the_stored_secret(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.frames = [rolled_out]
    cfg = config(tmp_path).model_copy(
        update={"models": [config(tmp_path).models[0].model_copy(update={"gated": False})]}
    )
    target(cfg).up(RecordingReporter())
    monkeypatch.delenv("HF_TOKEN")
    fake.requests.clear()
    target(cfg).up(RecordingReporter())
    assert "Secret/hf-secret" not in fake.applied()  # applying an empty secret would erase the stored token
    assert fake.get("Secret", "hf-secret", NS)["data"]["hf_api_token"]  # type: ignore[index]


def test_load_balancer_endpoint_then_down_waits_for_its_finalizer(fake: FakeCluster, tmp_path: Path) -> None:
    def with_address(f: FakeCluster) -> None:
        rolled_out(f)
        service = f.get("Service", GATEWAY, NS)
        assert service is not None
        service["status"] = {"loadBalancer": {"ingress": [{"hostname": LB_HOST}]}}

    fake.frames = [with_address]
    cfg = config(tmp_path, load_balancer=True)
    endpoints = target(cfg).up(RecordingReporter())
    assert endpoints[0].base_url == f"http://{LB_HOST}/v1"
    assert fake.get("Service", GATEWAY, NS)["metadata"]["finalizers"]  # type: ignore[index]
    assert fake.get("Service", "llama", NS)["spec"]["type"] == "ClusterIP"  # type: ignore[index]

    fake.requests.clear()
    fake.lb_cleanup_ticks = 24  # the cloud load balancer takes a while to go (ticks: one per request)
    fake.pod_grace_ticks = 8  # and the pod drains its requests first
    reporter = RecordingReporter()
    target(cfg).down(reporter)
    deleted = fake.deleted()
    assert deleted[:4] == ["deployments/llama", "services/llama", "poddisruptionbudgets/llama", "networkpolicies/llama"]
    assert deleted[-1] == f"namespaces/{NS}"
    assert "nodepools/g5-gpu-karpenter" not in deleted  # only with --platform
    names = reporter.phase_names()
    assert "waiting for the load balancer to be deleted" in names and "waiting for pods to stop" in names
    # The gateway (the platform's entry) goes with the last model; the namespace only once its Service (and so the
    # cloud load balancer) is really gone.
    assert deleted.index("deployments/llama") < deleted.index(f"deployments/{GATEWAY}")
    assert {f"roles/{GATEWAY}", f"rolebindings/{GATEWAY}", f"serviceaccounts/{GATEWAY}"} <= set(deleted)
    paths = [(r.method, r.path, r.status) for r in fake.requests]
    service = f"/api/v1/namespaces/{NS}/services/{GATEWAY}"
    service_gone = paths.index(("GET", service, 404))
    assert paths.index(("DELETE", f"/api/v1/namespaces/{NS}", 200)) > service_gone
    assert sum(1 for p in paths[:service_gone] if p == ("GET", service, 200)) >= 2
    assert fake.get("Service", GATEWAY, NS) is None and fake.get("Pod", POD, NS) is None
    assert fake.get("Namespace", NS) is None and fake.get("NodePool", "g5-gpu-karpenter") is not None


def test_down_platform_waits_for_nodeclaims_and_nodes_and_is_safe_to_repeat(fake: FakeCluster, tmp_path: Path) -> None:
    fake.frames = [rolled_out]
    cfg = config(tmp_path)
    target(cfg).up(RecordingReporter())
    fake.node_termination_ticks = 12  # EC2 takes its time
    reporter = RecordingReporter()
    target(cfg).down(reporter, platform=True)
    deleted = fake.deleted()
    assert deleted.index("nodepools/g5-gpu-karpenter") > deleted.index("deployments/llama")
    assert deleted.index("ec2nodeclasses/g5-gpu-karpenter") > deleted.index("nodepools/g5-gpu-karpenter")
    assert "waiting for Karpenter nodes to terminate" in reporter.phase_names()
    assert fake.all("NodeClaim") == [] and fake.all("Node") == [] and fake.all("NodePool") == []

    again = RecordingReporter()
    target(cfg).down(again, platform=True)
    assert any(info.endswith("already gone") for info in again.infos)


def test_down_keeps_shared_objects_while_other_models_run(fake: FakeCluster, tmp_path: Path) -> None:
    fake.frames = [rolled_out]
    cfg = config(tmp_path)
    target(cfg).up(RecordingReporter())
    other = dict(fake.get("Deployment", "llama", NS) or {})
    other["metadata"] = {**other["metadata"], "name": "qwen", "labels": {**SELECTOR, "inferctl.io/model": "qwen"}}
    fake.put(other)
    reporter = RecordingReporter()
    target(cfg).down(reporter)
    assert fake.get("Deployment", "llama", NS) is None
    assert fake.get("Namespace", NS) is not None and fake.get("Secret", "hf-secret", NS) is not None
    assert reporter.warnings == ["models qwen still run: keeping the namespace, secrets and node pools"]


def test_up_diagnoses_a_load_balancer_that_stays_pending(fake: FakeCluster, tmp_path: Path) -> None:
    fake.frames = [rolled_out]  # the pods come up, but no controller ever gives the Service an address
    tgt = target(config(tmp_path, load_balancer=True, load_balancer_timeout_s=60), step_s=5)
    with pytest.raises(OperationError) as caught:
        tgt.up(RecordingReporter())
    assert caught.value.message.startswith(f"Service {GATEWAY} has waited")
    assert "no controller acted on it; install the AWS Load Balancer Controller" in caught.value.message


def test_down_times_out_with_what_is_left(fake: FakeCluster, tmp_path: Path) -> None:
    fake.frames = [rolled_out]
    fake.lb_cleanup_ticks = 10**9  # the cloud never releases the load balancer
    cfg = config(tmp_path, load_balancer=True, load_balancer_timeout_s=10)
    with pytest.raises(OperationError):
        tgt = target(cfg, step_s=5)
        tgt.up(RecordingReporter())
    tgt = target(cfg, step_s=60)
    with pytest.raises(OperationError) as caught:
        tgt.down(RecordingReporter())
    assert "teardown did not finish within kubernetes.delete_timeout_s=1200s" in caught.value.message
    assert f"Service inferctl/{GATEWAY} (service.kubernetes.io/load-balancer-cleanup)" in caught.value.message


def test_smoke_test_asks_the_gateway_which_models_it_routes(fake: FakeCluster, tmp_path: Path) -> None:
    """smg's /v1/models is public (model_gateway/src/server.rs public_routes): the API server's proxy, which strips
    the caller's Authorization, reaches it; a model it does not list is not routable yet."""
    fake.frames = [rolled_out]
    fake.proxy[(NS, GATEWAY)] = GATEWAY_LISTS_LLAMA
    reporter = RecordingReporter()
    target(config(tmp_path)).up(reporter)
    assert "smoke test: the gateway routes llama" in reporter.infos and reporter.warnings == []
    fake.proxy[(NS, GATEWAY)] = (200, {"object": "list", "data": []})
    reporter = RecordingReporter()
    target(config(tmp_path)).up(reporter)
    assert reporter.warnings == ["smoke test: the gateway does not list llama yet (it lists [])"]


def test_endpoints_logs_and_plan(fake: FakeCluster, tmp_path: Path) -> None:
    from inferctl.errors import NotFoundError

    cfg = config(tmp_path)
    with pytest.raises(NotFoundError, match="no model of platform genai runs in namespace inferctl"):
        target(cfg).endpoints()
    fake.frames = [rolled_out]
    target(cfg).up(RecordingReporter())
    fake.logs[(NS, POD)] = ["INFO Starting", "INFO Loading weights", "INFO Application startup complete."]
    assert list(target(cfg).logs(model=None, follow=False, tail=2)) == [
        "INFO Loading weights",
        "INFO Application startup complete.",
    ]
    [endpoint] = target(cfg).endpoints()
    assert endpoint.base_url == "http://127.0.0.1:8000/v1" and endpoint.api_key
    plan = target(cfg).plan()
    assert plan.placements[0].instance_type == "g5.xlarge"
    assert PlannedObject("Deployment", "llama", NS) in plan.objects
    assert PlannedObject("Secret", "hf-secret", NS) in plan.objects
    as_json = plan.to_dict()
    assert HF_TOKEN not in str(as_json) and endpoint.api_key not in str(as_json)
    # The JSON keeps the keys it had as a dict (a contract: the confirmation of 'up' prints it).
    assert list(as_json) == ["target", "platform", "context", "namespace", "placements", "objects", "warnings"]
    assert list(as_json["placements"][0]) == [
        "model",
        "instance_type",
        "gpus",
        "max_model_len",
        "on_demand_usd_per_hour",
    ]
    assert {"kind": "Deployment", "name": "llama", "namespace": NS} in as_json["objects"]
    assert all(list(w) == ["warning"] for w in as_json["warnings"])


def test_pools_managed_elsewhere_are_not_applied_but_are_torn_down(fake: FakeCluster, tmp_path: Path) -> None:
    """The AWS target's path: Pulumi applies the pools (include_karpenter=False), this teardown removes them."""
    from inferctl.render import render_karpenter

    fake.frames = [rolled_out]
    cfg = config(tmp_path)
    tgt = target(cfg, include_karpenter=False)
    tgt.up(RecordingReporter())
    assert not [item for item in fake.applied() if item.startswith(("NodePool/", "EC2NodeClass/"))]
    for obj in render_karpenter(cfg):  # what the Pulumi program would have created
        fake.put({**obj, "metadata": {**obj["metadata"], "finalizers": ["karpenter.sh/termination"]}})
    tgt.down(RecordingReporter(), platform=True)
    assert fake.all("NodePool") == [] and fake.all("EC2NodeClass") == [] and fake.all("Node") == []


def test_up_marks_the_namespace_it_creates_and_keeps_the_mark(fake: FakeCluster, tmp_path: Path) -> None:
    fake.frames = [rolled_out, rolled_out]
    cfg = config(tmp_path)
    target(cfg).up(RecordingReporter())
    target(cfg).up(RecordingReporter())  # a re-apply keeps the mark (server-side apply drops unsent fields)
    namespace = fake.get("Namespace", NS)
    assert namespace is not None
    assert namespace["metadata"]["annotations"] == {"inferctl.io/created-by": "genai"}
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("existing", ["team-ml", "default"])
def test_a_namespace_that_existed_before_is_neither_relabelled_nor_deleted(
    fake: FakeCluster, tmp_path: Path, existing: str
) -> None:
    if fake.get("Namespace", existing) is None:
        fake.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": existing, "labels": {"team": "ml"}}})
    before = fake.get("Namespace", existing)
    labels = dict(before["metadata"].get("labels") or {})  # type: ignore[index]

    def rolled_out_there(f: FakeCluster) -> None:
        f.put(make_pod(POD, existing, SELECTOR, node="n", phase="Running", ready=True))
        set_rollout(f, "llama", existing, ready=1)

    fake.frames = [rolled_out_there]
    cfg = config(tmp_path, namespace=existing)
    reporter = RecordingReporter()
    target(cfg).up(reporter)
    assert f"Namespace/{existing}" not in fake.applied()
    assert (fake.get("Namespace", existing) or {})["metadata"].get("labels", {}) == labels
    assert "Deployment/llama" in fake.applied() and fake.get("Deployment", "llama", existing) is not None
    assert f"Namespace {existing} existed before inferctl" in reporter.text()

    target(cfg).down(RecordingReporter())
    assert f"namespaces/{existing}" not in fake.deleted()
    assert fake.get("Namespace", existing) is not None and fake.get("Deployment", "llama", existing) is None


def test_down_keeps_a_created_namespace_where_other_pods_run(fake: FakeCluster, tmp_path: Path) -> None:
    fake.frames = [rolled_out]
    cfg = config(tmp_path)
    target(cfg).up(RecordingReporter())
    fake.put(make_pod("someone-else", NS, {"app": "other"}, node="n", phase="Running"))
    reporter = RecordingReporter()
    target(cfg).down(reporter)
    assert f"namespaces/{NS}" not in fake.deleted() and fake.get("Namespace", NS) is not None
    assert reporter.warnings == [f"Namespace {NS}: keeping it, 1 other pod(s) run there (someone-else)"]


def test_a_missing_crd_stops_up_before_any_change(fake: FakeCluster, tmp_path: Path) -> None:
    from inferctl.errors import UserError

    fake.missing_groups.add("monitoring.coreos.com")
    cfg = config(tmp_path)
    monitors = {"prometheus": True, "prometheus_namespace": "monitoring"}
    cfg = cfg.model_copy(update={"observability": cfg.observability.model_copy(update=monitors)})
    with pytest.raises(UserError) as caught:
        target(cfg).up(RecordingReporter())
    assert caught.value.message == (
        "the cluster does not serve PodMonitor (monitoring.coreos.com/v1); install the Prometheus Operator "
        "(kube-prometheus-stack) or set observability.prometheus: false"
    )
    assert fake.applied() == []

    fake.missing_groups = {"karpenter.sh", "karpenter.k8s.aws"}
    with pytest.raises(UserError, match=r"serve EC2NodeClass \(karpenter.k8s.aws/v1\), NodePool \(karpenter.sh/v1\)"):
        target(config(tmp_path)).up(RecordingReporter())
    assert fake.applied() == []


def test_smoke_test_sends_no_api_key_and_tells_vllm_from_the_api_server(fake: FakeCluster, tmp_path: Path) -> None:
    """With certificate credentials nothing overwrites the Authorization header: the key must not be sent."""
    kubeconfig(tmp_path / "kubeconfig", token=None)
    fake.frames = [rolled_out]
    fake.proxy[(NS, GATEWAY)] = (401, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 401})
    reporter = RecordingReporter()
    target(config(tmp_path)).up(reporter)
    api_key = Home.from_env().api_key("genai", create=False)
    assert api_key and all(api_key not in str(r.headers) for r in fake.requests)
    [proxied] = [r for r in fake.requests if "/proxy/" in r.path]
    assert "authorization" not in {k.lower() for k in proxied.headers}
    # A 401 Status comes from the API server itself: it proves nothing about the gateway.
    assert reporter.warnings == [f"smoke test: the gateway {GATEWAY} did not list its models; see 'kubectl logs'"]


def users_hf_secret(token: str = "hf_users_own_token") -> dict[str, Any]:
    """A Secret the user made with kubectl (no inferctl labels), as the workshop did by hand."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "hf-secret", "namespace": NS},
        "type": "Opaque",
        "data": {"hf_api_token": base64.b64encode(token.encode()).decode()},
    }


@pytest.mark.parametrize("hf_token_set", [False, True], ids=["no-HF_TOKEN", "HF_TOKEN-set"])
def test_a_users_hf_secret_is_used_as_it_is_and_outlives_down(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hf_token_set: bool
) -> None:
    """The gated model's up does not demand HF_TOKEN when hf-secret exists; it neither overwrites nor takes over
    the user's Secret, and down deletes only the Secrets inferctl created (ownership label)."""
    if not hf_token_set:
        monkeypatch.delenv("HF_TOKEN")
    fake.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    fake.put(users_hf_secret())
    fake.frames = [rolled_out]
    reporter = RecordingReporter()
    target(config(tmp_path)).up(reporter)
    assert "Secret/hf-secret" not in fake.applied()
    assert "Secret/inferctl-api-key" in fake.applied()
    assert "Secret hf-secret exists and was not created by inferctl: using it as it is (down keeps it)" in (
        reporter.infos
    )
    stored = fake.get("Secret", "hf-secret", NS)
    assert stored is not None and base64.b64decode(stored["data"]["hf_api_token"]).decode() == "hf_users_own_token"

    down = RecordingReporter()
    target(config(tmp_path)).down(down)
    assert fake.get("Secret", "hf-secret", NS) is not None
    assert fake.get("Secret", "inferctl-api-key", NS) is None  # created by inferctl: deleted
    assert f"Secret {NS}/hf-secret was not created by inferctl: keeping it" in down.infos


def test_secrets_inferctl_creates_carry_the_ownership_label(fake: FakeCluster, tmp_path: Path) -> None:
    fake.frames = [rolled_out]
    target(config(tmp_path)).up(RecordingReporter())
    for name in ("hf-secret", "inferctl-api-key"):
        secret = fake.get("Secret", name, NS)
        assert secret is not None and secret["metadata"]["labels"]["inferctl.io/created-by"] == "genai"
    target(config(tmp_path)).down(RecordingReporter())
    assert fake.get("Secret", "hf-secret", NS) is None and fake.get("Secret", "inferctl-api-key", NS) is None
