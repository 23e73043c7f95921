"""The platform's one entry: the model gateway (smg 1.13.0, :mod:`inferctl.gateway`) in front of every model and
replica, and the only Service of type LoadBalancer (one NLB per platform on aws).

What a platform gets: a ServiceAccount with a Role that may only list and watch the namespace's pods (smg's
Kubernetes discovery is a ``kube::runtime::watcher`` on ``Api<Pod>``: ``model_gateway/src/service_discovery/
kubernetes.rs``), a Deployment of at least two replicas on the system nodes (aws), the CPU pool (Karpenter) or
any node but a GPU one, its PodDisruptionBudget, its Service, its NetworkPolicy and, when a model sleeps at zero,
the registrar's code in a ConfigMap (render.wake_registrar). The exact container command is
``docs/gateway-choice.md``'s, every flag from smg's ``src/smg/router_args.py``:

* model pods are discovered by the platform's labels (``--selector``) in the platform's namespace, on vLLM's port
  (``--service-discovery-port``, smg's default is 80), and registered under their served model name, read from
  the pod annotation the model renderer sets (``--model-id-from annotation:...``); a pod is a worker while it is
  Running, Ready and not being deleted;
* the API key is checked here (``--api-key``, from the Secret through the environment: ``SMG_LAUNCH``); the
  caller's ``Authorization`` header is forwarded to vLLM, which checks it too;
* probes on their own port and runtime (``--health-check-port``), readiness on ``/health``: ``/readiness`` is 503
  while no model is awake, which would take the gateway out of service exactly when a request must wake one;
* timeouts from the request chain (sizing.request_timeouts), the drain from render.drain.

Where the gateway is not enough on its own: a sleeping model has no pod, so no discovered worker; its wake worker
is posted to ``/workers`` by the registrar container beside the gateway (render.wake), and the pod is Ready only
once every wake worker is registered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from inferctl.config.models import PlatformConfig
from inferctl.engine import CONTAINER_PORT
from inferctl.errors import ConfigError
from inferctl.gateway import API_KEY_ENV, GATEWAY_IMAGE, GATEWAY_UID, ROUTING_FLAGS, SMG_LAUNCH
from inferctl.kube_names import (
    ANNOTATION_SERVED_MODEL_NAME,
    APP_COMPONENT,
    APP_INSTANCE,
    APP_NAME,
    EKS_NODEGROUP,
    KARPENTER_NODEPOOL,
    LABEL_PLATFORM,
    PORT_NAME,
    bounded_name,
    system_node_group,
)
from inferctl.render import wake_registrar
from inferctl.render.drain import DrainTimings, gateway_drain, nlb_deregistration_delay_s
from inferctl.render.meta import (
    MODEL_SERVER_COMPONENT,
    SERVICE_PORT,
    Object,
    metadata,
    platform_labels,
    restricted_container_security,
    restricted_pod_security,
)
from inferctl.render.observability import render_gateway_pod_monitor, scraper_peer
from inferctl.render.wake import sleeping_models, wake_worker
from inferctl.sizing.placement import Placement
from inferctl.sizing.request_timeouts import (
    GatewayTimeouts,
    behind_aws_nlb,
    gateway_timeouts,
    request_timeouts,
)
from inferctl.sizing.system_pods import GATEWAY_POD_REQUESTS, GATEWAY_REPLICAS, GATEWAY_SPREAD, Resources, mebibytes

COMPONENT = "gateway"
HTTP_PORT = 8080
PROBE_PORT = 8081
METRICS_PORT = 29000  # smg's --prometheus-port default
REGISTRAR_PORT = wake_registrar.DEFAULT_PORT
PROBE_PORT_NAME = "probes"
METRICS_PORT_NAME = "metrics"
REGISTRAR_PORT_NAME = "registrar"
HEALTH_PATH = "/health"
LIVENESS_PATH = "/liveness"
# The registrar is a small Python loop; the gateway gets the rest of the pod's requests (sizing.system_pods).
REGISTRAR_REQUESTS = Resources(10, 32)
REGISTRAR_MEMORY_LIMIT_MIB = 64
# A runaway gateway is bounded; no CPU limit: a throttled gateway adds latency to every request.
GATEWAY_MEMORY_LIMIT_MIB = 1024
REGISTRAR_MODULE = "inferctl_wake_registrar.py"
REGISTRAR_DIR = "/opt/inferctl"

_ANN = "service.beta.kubernetes.io/aws-load-balancer-"
AWS_LB_CLASS = "service.k8s.aws/nlb"


def gateway_name(config: PlatformConfig) -> str:
    return bounded_name(f"{config.name}-gateway", 63)


def gateway_selector(config: PlatformConfig) -> dict[str, str]:
    """The labels that select the gateway's pods (Deployment, Service, PDB, NetworkPolicies)."""
    return {LABEL_PLATFORM: config.name, APP_COMPONENT: COMPONENT}


def gateway_labels(config: PlatformConfig) -> dict[str, str]:
    return {**platform_labels(config), APP_NAME: "smg", APP_INSTANCE: gateway_name(config), APP_COMPONENT: COMPONENT}


def _meta(config: PlatformConfig, name: str | None = None, **extra: Any) -> dict[str, Any]:
    return metadata(
        name or gateway_name(config), namespace=config.kubernetes.namespace, labels=gateway_labels(config), **extra
    )


def check_gateway_name(config: PlatformConfig) -> None:
    """A model named like the gateway would share its Deployment and Service names."""
    name = gateway_name(config)
    if any(m.name == name for m in config.models):
        raise ConfigError(f"model name {name!r} is the platform's gateway's; rename the model")


# --- the command line -----------------------------------------------------------------------------------------


def discovery_args(config: PlatformConfig) -> list[str]:
    """How the gateway finds the model pods: Kubernetes discovery in the platform's namespace."""
    return [
        "--service-discovery",
        "--service-discovery-namespace",
        config.kubernetes.namespace,
        "--selector",
        f"{LABEL_PLATFORM}={config.name}",
        f"{APP_COMPONENT}={MODEL_SERVER_COMPONENT}",
        "--service-discovery-port",
        str(CONTAINER_PORT),
        "--model-id-from",
        f"annotation:{ANNOTATION_SERVED_MODEL_NAME}",
    ]


def gateway_args(config: PlatformConfig, timeouts: GatewayTimeouts, drain: DrainTimings) -> list[str]:
    """The gateway container's arguments (after the launcher): listeners, routing, discovery, timeouts."""
    args = [
        "--host", "0.0.0.0", "--port", str(HTTP_PORT), "--health-check-port", str(PROBE_PORT),
        "--prometheus-host", "0.0.0.0", "--prometheus-port", str(METRICS_PORT),
        *ROUTING_FLAGS, "--log-json",
        *discovery_args(config),
        # An unhealthy worker stays registered: its model answers 503, not 404 model_not_found.
        "--no-remove-unhealthy-workers",
        "--request-timeout-secs", str(timeouts.request_s),
        "--shutdown-grace-period-secs", str(drain.shutdown_timeout_s),
    ]  # fmt: skip
    if timeouts.idle_connection_s is not None:
        args += ["--idle-connection-timeout-secs", str(timeouts.idle_connection_s)]
    return args


def _key_env(config: PlatformConfig) -> list[dict[str, Any]]:
    if not config.endpoint.api_key.enabled:
        return []
    secret = {"name": config.endpoint.api_key.secret_name, "key": config.endpoint.api_key.secret_key}
    return [{"name": API_KEY_ENV, "valueFrom": {"secretKeyRef": secret}}]


def _resources(requests: Resources, memory_limit_mib: int) -> dict[str, Any]:
    return {"requests": requests.quantities(), "limits": {"memory": mebibytes(memory_limit_mib)}}


def _http_probe(path: str, port: str, period_s: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period_s,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _gateway_container(
    config: PlatformConfig, timeouts: GatewayTimeouts, drain: DrainTimings, requests: Resources
) -> dict[str, Any]:
    # With the key off the image's own entry starts smg (SMG_LAUNCH needs the variable).
    keyed = config.endpoint.api_key.enabled
    command = ["python3", "-c", SMG_LAUNCH] if keyed else ["python3", "-m", "smg.launch_router"]
    return {
        "name": COMPONENT,
        "image": GATEWAY_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "args": gateway_args(config, timeouts, drain),
        "ports": [
            {"name": PORT_NAME, "containerPort": HTTP_PORT, "protocol": "TCP"},
            {"name": PROBE_PORT_NAME, "containerPort": PROBE_PORT, "protocol": "TCP"},
            {"name": METRICS_PORT_NAME, "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "env": _key_env(config),
        "resources": _resources(requests, GATEWAY_MEMORY_LIMIT_MIB),
        "readinessProbe": _http_probe(HEALTH_PATH, PROBE_PORT_NAME, 5, 3),
        "livenessProbe": _http_probe(LIVENESS_PATH, PROBE_PORT_NAME, 10, 6),
        # New connections keep coming while endpoints (and the NLB) let go of the pod; then smg drains.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(drain.prestop_s)]}}},
        "securityContext": restricted_container_security(GATEWAY_UID),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def wake_workers(config: PlatformConfig, placements: Mapping[str, Placement | None]) -> list[dict[str, Any]]:
    """The wake worker of every sleeping model (render.wake), in config order."""
    return [wake_worker(config, m, placements.get(m.name)) for m in sleeping_models(config)]


def _registrar_container(config: PlatformConfig, workers: list[dict[str, Any]]) -> dict[str, Any]:
    env = [
        {"name": wake_registrar.WORKERS_ENV, "value": json.dumps(workers, sort_keys=True)},
        {"name": wake_registrar.GATEWAY_ENV, "value": f"http://127.0.0.1:{HTTP_PORT}"},
        {"name": wake_registrar.PORT_ENV, "value": str(REGISTRAR_PORT)},
        *_key_env(config),
    ]
    return {
        "name": "wake-registrar",
        "image": GATEWAY_IMAGE,  # its Python, standard library only
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", f"{REGISTRAR_DIR}/{REGISTRAR_MODULE}"],
        "ports": [{"name": REGISTRAR_PORT_NAME, "containerPort": REGISTRAR_PORT, "protocol": "TCP"}],
        "env": env,
        "resources": _resources(REGISTRAR_REQUESTS, REGISTRAR_MEMORY_LIMIT_MIB),
        # Ready once the gateway lists every wake worker: before, a sleeping model would be unknown (404).
        "readinessProbe": _http_probe("/ready", REGISTRAR_PORT_NAME, 5, 1),
        "livenessProbe": _http_probe("/live", REGISTRAR_PORT_NAME, 10, 6),
        "securityContext": restricted_container_security(GATEWAY_UID),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [{"name": "wake-registrar", "mountPath": REGISTRAR_DIR, "readOnly": True}],
    }


def registrar_config_map_name(config: PlatformConfig) -> str:
    return bounded_name(f"{gateway_name(config)}-wake-registrar", 63)


def registrar_source() -> str:
    """render/wake_registrar.py as shipped to the pod (the same file the tests import)."""
    from importlib.resources import files

    return files("inferctl.render").joinpath("wake_registrar.py").read_text(encoding="utf-8")


def render_registrar_config_map(config: PlatformConfig) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(config, registrar_config_map_name(config)),
        "data": {REGISTRAR_MODULE: registrar_source()},
    }


# --- where it runs --------------------------------------------------------------------------------------------


def _scheduling(config: PlatformConfig) -> dict[str, Any]:
    """Never a GPU node: aws's system node group, else Karpenter's CPU pool, else any node but the model
    servers' (no GPU toleration either way, so a GPU node's ``nvidia.com/gpu`` taint keeps it off too)."""
    selector = {"kubernetes.io/os": "linux"}
    if config.traits.owns_infrastructure:
        selector[EKS_NODEGROUP] = system_node_group(config.cluster_name)
    elif config.uses_karpenter:
        selector[KARPENTER_NODEPOOL] = config.pools.cpu.name
    hostname = "kubernetes.io/hostname"

    def away_from(labels: dict[str, str]) -> dict[str, Any]:
        return {"weight": 100, "podAffinityTerm": {"topologyKey": hostname, "labelSelector": {"matchLabels": labels}}}

    preferred: list[dict[str, Any]] = []
    if GATEWAY_SPREAD == "preferred":  # one replica per node where the nodes allow (sizing.system_pods)
        preferred.append(away_from(gateway_selector(config)))
    if len(selector) == 1:  # no pool to pin to: at least not beside a model server (its node has the GPUs)
        preferred.append(away_from({LABEL_PLATFORM: config.name, APP_COMPONENT: MODEL_SERVER_COMPONENT}))
    spec: dict[str, Any] = {"nodeSelector": selector}
    if preferred:
        spec["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}}
    return spec


# --- the objects ----------------------------------------------------------------------------------------------


def longest_request_s(config: PlatformConfig, placements: Mapping[str, Placement | None]) -> int:
    """The longest a request may last through the gateway: its global timeout or a wake worker's."""
    chains = [request_timeouts(config, m, placements.get(m.name)).gateway_s for m in config.models]
    return max([gateway_timeouts(config, placements).request_s, *chains])


def render_gateway_deployment(config: PlatformConfig, placements: Mapping[str, Placement | None]) -> Object:
    timeouts = gateway_timeouts(config, placements)
    drain = gateway_drain(config, longest_request_s(config, placements))
    workers = wake_workers(config, placements)
    # The pod asks for GATEWAY_POD_REQUESTS in all (the system nodes are sized for it); the registrar's share first.
    requests = GATEWAY_POD_REQUESTS
    if workers:
        requests = Resources(
            requests.cpu_m - REGISTRAR_REQUESTS.cpu_m, requests.memory_mib - REGISTRAR_REQUESTS.memory_mib
        )
    containers = [_gateway_container(config, timeouts, drain, requests)]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    if workers:
        containers.append(_registrar_container(config, workers))
        volumes.append(
            {
                "name": "wake-registrar",
                "configMap": {"name": registrar_config_map_name(config), "defaultMode": 0o444},
            }
        )
    pod_spec: dict[str, Any] = {
        "serviceAccountName": gateway_name(config),
        "automountServiceAccountToken": True,  # discovery reads pods through the API server
        "enableServiceLinks": False,
        "securityContext": restricted_pod_security(GATEWAY_UID),
        "terminationGracePeriodSeconds": drain.grace_s,
        **_scheduling(config),
        "containers": containers,
        "volumes": volumes,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(config),
        "spec": {
            "replicas": GATEWAY_REPLICAS,
            "revisionHistoryLimit": 3,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "selector": {"matchLabels": gateway_selector(config)},
            "template": {"metadata": {"labels": gateway_labels(config)}, "spec": pod_spec},
        },
    }


def render_rbac(config: PlatformConfig) -> list[Object]:
    """The gateway's identity: list and watch the namespace's pods, nothing else."""
    name = gateway_name(config)
    return [
        # No token by default; the gateway's pod asks for one (render_gateway_deployment).
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(config),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(config),
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(config),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": config.kubernetes.namespace}],
        },
    ]


def nlb_annotations(config: PlatformConfig, timeouts: GatewayTimeouts) -> dict[str, str]:
    """The AWS Load Balancer Controller's annotations of the platform's NLB (v2.14.0,
    docs/guide/service/annotations.md): IP targets (the gateway pods), scheme from ``endpoint.exposure``, the health
    check on the gateway's probe port, deregistration as long as the gateway drains, the listener's idle timeout
    from the request chain, and the platform's tags so teardown finds a load balancer that outlived its Service."""
    tags = {LABEL_PLATFORM: config.name, **config.aws.tags}
    return {
        f"{_ANN}type": "external",
        f"{_ANN}nlb-target-type": "ip",
        f"{_ANN}scheme": config.endpoint.exposure.scheme,
        f"{_ANN}healthcheck-protocol": "http",
        f"{_ANN}healthcheck-path": HEALTH_PATH,
        f"{_ANN}healthcheck-port": str(PROBE_PORT),
        f"{_ANN}target-group-attributes": f"deregistration_delay.timeout_seconds={nlb_deregistration_delay_s(config)}",
        f"{_ANN}listener-attributes.TCP-{SERVICE_PORT}": f"tcp.idle_timeout.seconds={timeouts.load_balancer_s}",
        f"{_ANN}additional-resource-tags": ",".join(f"{k}={v}" for k, v in sorted(tags.items())),
    }


def render_gateway_service(config: PlatformConfig, placements: Mapping[str, Placement | None]) -> Object:
    """The platform's one endpoint: an NLB on aws, else ``endpoint.exposure.service_type`` (ClusterIP: port-forward)."""
    kind = config.endpoint_service_type
    spec: dict[str, Any] = {
        "type": kind,
        "selector": gateway_selector(config),
        "ports": [{"name": PORT_NAME, "port": SERVICE_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
    }
    annotations = None
    if behind_aws_nlb(config):
        spec["loadBalancerClass"] = AWS_LB_CLASS  # the controller's NLB, never the legacy in-tree one
        annotations = nlb_annotations(config, gateway_timeouts(config, placements))
    if kind == "LoadBalancer" and config.endpoint.exposure.source_ranges:
        spec["loadBalancerSourceRanges"] = list(config.endpoint.exposure.source_ranges)
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(config, annotations=annotations), "spec": spec}


def render_gateway_network_policy(config: PlatformConfig) -> Object:
    """Clients (the load balancer, port-forwards, in-cluster callers) on the API port and the probe port (the NLB's
    health checks); Prometheus on the metrics port. The kubelet's probes come from the node, which a
    NetworkPolicy always admits (kubernetes.io, "Network Policies"). Egress stays open: the API server, the
    model pods, the interceptor, DNS."""
    ingress: list[dict[str, Any]] = [
        {"ports": [{"protocol": "TCP", "port": HTTP_PORT}, {"protocol": "TCP", "port": PROBE_PORT}]},
    ]
    scraper = scraper_peer(config)
    if scraper is not None:
        ingress.append({"from": [scraper], "ports": [{"protocol": "TCP", "port": METRICS_PORT}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(config),
        "spec": {
            "podSelector": {"matchLabels": gateway_selector(config)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }


def render_gateway_disruption_budget(config: PlatformConfig) -> Object:
    """One gateway pod away at a time for drains and upgrades: the other keeps the endpoint answering."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(config),
        "spec": {
            "maxUnavailable": 1,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": {"matchLabels": gateway_selector(config)},
        },
    }


def render_gateway(config: PlatformConfig, placements: Mapping[str, Placement | None]) -> list[Object]:
    """Every object of the gateway (the registrar's ConfigMap only when a model sleeps, the PodMonitor only when
    ``observability.prometheus`` asks for monitors)."""
    check_gateway_name(config)
    objects = [
        *render_rbac(config),
        render_gateway_network_policy(config),
        render_gateway_disruption_budget(config),
        render_gateway_service(config, placements),
        render_gateway_deployment(config, placements),
    ]
    if sleeping_models(config):
        objects.append(render_registrar_config_map(config))
    if config.observability.prometheus:
        objects.append(render_gateway_pod_monitor(config, gateway_selector(config), METRICS_PORT_NAME))
    return objects


__all__ = [
    "AWS_LB_CLASS",
    "COMPONENT",
    "HTTP_PORT",
    "METRICS_PORT",
    "METRICS_PORT_NAME",
    "PROBE_PORT",
    "check_gateway_name",
    "discovery_args",
    "gateway_args",
    "gateway_labels",
    "gateway_name",
    "gateway_selector",
    "nlb_annotations",
    "registrar_source",
    "render_gateway",
    "render_gateway_deployment",
    "render_gateway_service",
    "wake_workers",
]
