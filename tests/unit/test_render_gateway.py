"""The platform's one entry, the model gateway (render/gateway.py): its Deployment, identity, Service (the only
LoadBalancer: one NLB per platform), NetworkPolicy, disruption budget and drain.

The oracle for the command line is smg 1.13.0 itself: its own argument parser (``smg.launch_router.
parse_router_args``, installed from the pinned wheel) reads the rendered arguments, so a flag it does not know, or
a value it would read differently, fails here. The rendered gateway running for real: tests/e2e/
test_gateway_cluster_e2e.py. Facts from upstream are the constants below, each with its source.
"""

from __future__ import annotations

import pytest

from inferctl.config.models import PlatformConfig
from inferctl.errors import ConfigError
from inferctl.gateway import API_KEY_ENV, GATEWAY_IMAGE, SMG_LAUNCH
from inferctl.render import render_platform
from inferctl.render.drain import NLB_NEW_CONNECTIONS_S
from inferctl.render.gateway import (
    discovery_args,
    gateway_selector,
    registrar_source,
    render_gateway,
)
from inferctl.render.meta import model_labels
from inferctl.sizing.system_pods import GATEWAY_POD_REQUESTS, GATEWAY_REPLICAS, Resources
from tests.support.render import LLAMA3_8B, by_kind, one, placements_for, workshop_config

smg = pytest.importorskip("smg.launch_router", reason="smg (the 'local' extra) parses the rendered arguments")

ANN = "service.beta.kubernetes.io/aws-load-balancer-"
NAME = "genai-gateway"
ZERO = {"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0}}
# smg-project/smg docker/Dockerfile (main, f8daa8835a8b): useradd --uid 65532 smg; USER smg.
SMG_IMAGE_UID = 65532
# smg 1.13.0 src/smg/router_args.py: --service-discovery-port defaults to 80, vLLM listens on 8000
# (inferctl.engine.CONTAINER_PORT); --model-id-from accepts namespace | label:<key> | annotation:<key>.
SMG_DISCOVERY_PORT_DEFAULT = 80


def _objects(config: PlatformConfig) -> list[dict]:
    return render_gateway(config, placements_for(config))


def _pod(objects: list[dict]) -> dict:
    return one(objects, "Deployment", NAME)["spec"]["template"]["spec"]


def _container(objects: list[dict], name: str = "gateway") -> dict:
    return next(c for c in _pod(objects)["containers"] if c["name"] == name)


def test_smg_reads_the_rendered_command_line_as_meant() -> None:
    config = workshop_config()
    container = _container(_objects(config))
    assert container["image"] == GATEWAY_IMAGE
    assert container["command"] == ["python3", "-c", SMG_LAUNCH]
    args = smg.parse_router_args(container["args"])
    assert (args.host, args.port, args.health_check_port) == ("0.0.0.0", 8080, 8081)
    assert (args.prometheus_host, args.prometheus_port) == ("0.0.0.0", 29000)
    assert (args.policy, args.backend, args.disable_tokenizer_autoload, args.log_json) == (
        "cache_aware", "vllm", True, True,
    )  # fmt: skip
    assert args.service_discovery and args.service_discovery_namespace == "inferctl"
    assert args.selector == {"inferctl.io/platform": "genai", "app.kubernetes.io/component": "model-server"}
    assert args.service_discovery_port == 8000 != SMG_DISCOVERY_PORT_DEFAULT
    assert args.model_id_from == "annotation:inferctl.io/served-model-name"
    assert args.remove_unhealthy_workers is False  # an unhealthy model answers 503, not 404
    assert args.api_key is None  # never on the command line: SMG_LAUNCH reads it from the environment
    key = next(e for e in container["env"] if e["name"] == API_KEY_ENV)
    assert key["valueFrom"]["secretKeyRef"] == {"name": "inferctl-api-key", "key": "api-key"}
    with pytest.raises(SystemExit):  # the oracle does refuse what it does not know
        smg.parse_router_args([*container["args"], "--no-such-flag"])


def test_discovery_selects_exactly_the_platforms_model_pods_and_reads_their_served_name() -> None:
    config = workshop_config(
        models=[{"name": "llama", "source": LLAMA3_8B, "served_model_name": "meta-llama/Llama-3-8B-Instruct"}]
    )
    objects = render_platform(config, placements_for(config))
    selector = smg.parse_router_args(discovery_args(config)).selector
    template = one(objects, "Deployment", "llama")["spec"]["template"]
    assert selector.items() <= template["metadata"]["labels"].items()
    assert template["metadata"]["annotations"]["inferctl.io/served-model-name"] == "meta-llama/Llama-3-8B-Instruct"
    gateway_template = one(objects, "Deployment", NAME)["spec"]["template"]
    assert not selector.items() <= gateway_template["metadata"]["labels"].items()  # never itself
    assert selector.items() <= model_labels(config, config.models[0]).items()


def test_it_runs_two_replicas_restricted_with_the_requests_the_system_nodes_are_sized_for() -> None:
    config = workshop_config(models=[ZERO])
    objects = _objects(config)
    deployment = one(objects, "Deployment", NAME)
    assert deployment["spec"]["replicas"] == GATEWAY_REPLICAS >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pod = _pod(objects)
    assert pod["securityContext"]["runAsUser"] == SMG_IMAGE_UID and pod["securityContext"]["runAsNonRoot"]
    total = Resources(0, 0)
    for container in pod["containers"]:
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        requests = container["resources"]["requests"]
        total = total + Resources(int(requests["cpu"].removesuffix("m")), _mib(requests["memory"]))
        assert "memory" in container["resources"]["limits"]
    assert total == GATEWAY_POD_REQUESTS  # sizing.system_pods sizes the system nodes with these
    assert "tolerations" not in pod  # no GPU toleration: a GPU node's taint keeps it off
    budget = one(objects, "PodDisruptionBudget", NAME)
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == gateway_selector(config)


def _mib(quantity: str) -> int:
    return int(quantity.removesuffix("Gi")) * 1024 if quantity.endswith("Gi") else int(quantity.removesuffix("Mi"))


@pytest.mark.parametrize(
    ("overrides", "node_selector", "avoids_models"),
    [
        ({}, {"eks.amazonaws.com/nodegroup": "genai-system"}, False),
        (
            {"target": "kubernetes", "kubernetes": {"karpenter": True}},
            {"karpenter.sh/nodepool": "x86-cpu-karpenter"},
            False,
        ),
        ({"target": "kubernetes"}, {}, True),
    ],
    ids=["aws-system-nodes", "karpenter-cpu-pool", "any-cluster"],
)
def test_never_on_a_gpu_node(overrides: dict, node_selector: dict, avoids_models: bool) -> None:
    """aws: the system node group (aws/eks.py names it ``<cluster>-system``; EKS labels its nodes with
    ``eks.amazonaws.com/nodegroup``); Karpenter: the CPU pool; elsewhere no toleration of the GPU nodes' taint and a
    preference against the model servers' nodes."""
    pod = _pod(_objects(workshop_config(**overrides)))
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", **node_selector}
    terms = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    selectors = [t["podAffinityTerm"]["labelSelector"]["matchLabels"] for t in terms]
    assert gateway_selector(workshop_config(**overrides)) in selectors  # its replicas spread over nodes
    assert any(s.get("app.kubernetes.io/component") == "model-server" for s in selectors) == avoids_models


def test_its_identity_may_only_list_and_watch_pods_in_its_namespace() -> None:
    """smg's Kubernetes discovery is a kube-rs watcher on Api<Pod> (model_gateway/src/service_discovery/
    kubernetes.rs), namespaced by --service-discovery-namespace: list and watch, nothing cluster-wide."""
    config = workshop_config(kubernetes={"namespace": "llm"})
    objects = _objects(config)
    role = one(objects, "Role", NAME)
    assert role["metadata"]["namespace"] == "llm"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}]
    binding = one(objects, "RoleBinding", NAME)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": "llm"}]
    assert _pod(objects)["serviceAccountName"] == NAME and _pod(objects)["automountServiceAccountToken"] is True
    assert not [o for o in objects if o["kind"].startswith("Cluster")]


def test_on_aws_its_service_is_the_platforms_one_internal_nlb() -> None:
    config = workshop_config(models=[ZERO, {"name": "qwen", "source": "Qwen/Qwen2.5-7B-Instruct"}])
    objects = render_platform(config, placements_for(config))
    balancers = [s for s in by_kind(objects, "Service") if s["spec"]["type"] == "LoadBalancer"]
    assert [s["metadata"]["name"] for s in balancers] == [NAME]
    service = balancers[0]
    assert service["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"
    assert service["spec"]["selector"] == gateway_selector(config)
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    annotations = service["metadata"]["annotations"]
    assert annotations[f"{ANN}type"] == "external" and annotations[f"{ANN}nlb-target-type"] == "ip"
    assert annotations[f"{ANN}scheme"] == "internal"
    # the NLB checks the gateway's probe listener, which answers while the process serves
    assert (annotations[f"{ANN}healthcheck-path"], annotations[f"{ANN}healthcheck-port"]) == ("/health", "8081")
    assert "inferctl.io/platform=genai" in annotations[f"{ANN}additional-resource-tags"]
    assert "loadBalancerSourceRanges" not in service["spec"]


def test_internet_facing_carries_source_ranges_and_elsewhere_it_is_cluster_ip_or_a_plain_balancer() -> None:
    exposure = {"scheme": "internet-facing", "source_ranges": ["203.0.113.0/24", "198.51.100.7/32"]}
    service = one(_objects(workshop_config(endpoint={"exposure": exposure})), "Service", NAME)
    assert service["metadata"]["annotations"][f"{ANN}scheme"] == "internet-facing"
    assert service["spec"]["loadBalancerSourceRanges"] == ["203.0.113.0/24", "198.51.100.7/32"]
    plain = one(_objects(workshop_config(target="kubernetes")), "Service", NAME)
    assert plain["spec"]["type"] == "ClusterIP" and "annotations" not in plain["metadata"]
    asked = workshop_config(target="kubernetes", endpoint={"exposure": {"service_type": "LoadBalancer"}})
    balancer = one(_objects(asked), "Service", NAME)
    assert balancer["spec"]["type"] == "LoadBalancer"
    assert "loadBalancerClass" not in balancer["spec"] and "annotations" not in balancer["metadata"]


def test_behind_the_nlb_it_drains_as_long_as_the_nlb_keeps_its_connections() -> None:
    """preStop outlasts the NLB's ~2 minutes of new connections to a deregistering IP target (render/drain.py), then
    smg drains on SIGTERM for --shutdown-grace-period-secs (model_gateway/src/server.rs): together inside the grace
    period, and the target group's deregistration delay covers them (0-3600 s)."""
    objects = _objects(workshop_config())
    pod, container = _pod(objects), _container(objects)
    prestop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = int(container["args"][container["args"].index("--shutdown-grace-period-secs") + 1])
    assert prestop >= NLB_NEW_CONNECTIONS_S
    assert prestop + drain <= pod["terminationGracePeriodSeconds"] <= 3600
    attributes = one(objects, "Service", NAME)["metadata"]["annotations"][f"{ANN}target-group-attributes"]
    assert int(attributes.removeprefix("deregistration_delay.timeout_seconds=")) >= prestop + drain
    # in a cluster without an NLB: a short wait, and a drain as long as a request may last through the gateway
    inside = _objects(workshop_config(target="kubernetes"))
    short = int(_container(inside)["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert short < NLB_NEW_CONNECTIONS_S
    assert int(_container(inside)["args"][_container(inside)["args"].index("--shutdown-grace-period-secs") + 1]) >= 1800


def test_its_network_policy_admits_clients_and_health_checks_and_prometheus_on_metrics() -> None:
    objects = _objects(workshop_config())
    policy = one(objects, "NetworkPolicy", NAME)
    assert policy["spec"]["podSelector"]["matchLabels"] == gateway_selector(workshop_config())
    open_rule, metrics_rule = policy["spec"]["ingress"]
    assert "from" not in open_rule and open_rule["ports"] == [
        {"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 8081},
    ]  # fmt: skip
    assert metrics_rule["ports"] == [{"protocol": "TCP", "port": 29000}]
    assert metrics_rule["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "prometheus"}


def test_the_registrar_runs_beside_it_only_when_a_model_sleeps() -> None:
    assert [c["name"] for c in _pod(_objects(workshop_config()))["containers"]] == ["gateway"]
    assert not [o for o in _objects(workshop_config()) if o["kind"] == "ConfigMap"]
    objects = _objects(workshop_config(models=[ZERO]))
    registrar = _container(objects, "wake-registrar")
    assert registrar["image"] == GATEWAY_IMAGE  # its python3, standard library only
    assert registrar["command"] == ["python3", "/opt/inferctl/inferctl_wake_registrar.py"]
    assert registrar["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "registrar"}
    env = {e["name"]: e for e in registrar["env"]}
    assert env["INFERCTL_GATEWAY_URL"]["value"] == "http://127.0.0.1:8080"
    assert "valueFrom" in env[API_KEY_ENV]  # from the Secret, never a value in the manifest
    config_map = one(objects, "ConfigMap", "genai-gateway-wake-registrar")
    assert config_map["data"] == {"inferctl_wake_registrar.py": registrar_source()}
    volume = next(v for v in _pod(objects)["volumes"] if v["name"] == "wake-registrar")
    assert volume["configMap"]["name"] == "genai-gateway-wake-registrar"


def test_without_the_key_the_images_own_entry_starts_it() -> None:
    container = _container(_objects(workshop_config(target="kubernetes", endpoint={"api_key": {"enabled": False}})))
    assert container["command"] == ["python3", "-m", "smg.launch_router"] and container["env"] == []


def test_a_model_named_like_the_gateway_is_refused() -> None:
    config = workshop_config(models=[{"name": NAME, "source": LLAMA3_8B}])
    with pytest.raises(ConfigError, match="rename the model"):
        render_platform(config, placements_for(config))


def test_prometheus_monitors_get_one_for_the_gateway_too() -> None:
    config = workshop_config(observability={"prometheus": True})
    monitor = one(_objects(config), "PodMonitor", NAME)
    assert monitor["spec"]["selector"]["matchLabels"] == gateway_selector(config)
    assert monitor["spec"]["podMetricsEndpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s"}]
