"""Config (+ optional placements) -> :class:`ArchitectureGraph`, per target. Pure: no network, no subprocess.

Each target shows only what exists there:

- aws: clients -> the platform's one NLB -> the model gateway on the system node group -> vLLM pods on Karpenter
  GPU nodes (a model asleep at zero: through its wake route on the KEDA HTTP add-on's interceptor), Karpenter and
  the AWS Load Balancer Controller, the SQS interruption queue fed by EventBridge, HuggingFace weights and the
  token secret; all inside the region, the VPC and the EKS cluster (diagram.request_path draws the entry).
- kubernetes: the gateway and its Service, pods, secrets and the hub, inside the cluster's namespace (NodePools
  when enabled).
- local: client -> the one loopback port -> the model gateway (smg, the same as the clusters') -> each model's vLLM
  servers (``replicas``, each on a free port) -> model files.

A model without a placement (sizing unavailable) is drawn with its GPU pool's instance families instead of an
instance type.
"""

from __future__ import annotations

from collections.abc import Mapping

from inferctl.config.models import LB_CONTROLLER_APP_VERSIONS, GpuPool, ModelDeployment, PlatformConfig
from inferctl.diagram.graph import ArchitectureGraph, GraphBuilder, part_id
from inferctl.diagram.request_path import client_edge_label, draw_entry, draw_gateway, draw_models
from inferctl.render import service_type
from inferctl.sizing.local import local_replicas
from inferctl.sizing.placement import Placement
from inferctl.sizing.system_nodes import system_instance_types

# The five EventBridge rules of Karpenter's interruption handling, as in Karpenter v1.14.1's getting-started
# CloudFormation: scheduled change, spot interruption, rebalance, instance state change, capacity reservation.
_INTERRUPTION_RULES = "spot interruption\nrebalance · state change\nscheduled change\ncapacity reservation"


def build_graph(
    config: PlatformConfig,
    placements: Mapping[str, Placement] | None = None,
    *,
    notes: tuple[str, ...] = (),
) -> ArchitectureGraph:
    """The architecture of ``config.target``. ``placements`` maps model names to sizing results."""
    placements = placements or {}
    builder = GraphBuilder(title=_title(config), target=config.target)
    builder.notes.extend(notes)
    if config.traits.owns_infrastructure:
        _cluster_notes(builder, config)
        _aws(builder, config, placements)
    elif config.traits.cluster:
        _cluster_notes(builder, config)
        _kubernetes(builder, config, placements)
    else:
        _local(builder, config)
    return builder.build()


# --- shared pieces ------------------------------------------------------------------------------------------


def _title(config: PlatformConfig) -> str:
    where = {
        "aws": f"vLLM on EKS + Karpenter in {config.aws.region}",
        "kubernetes": "vLLM on Kubernetes",
        "local": "vLLM on this machine",
    }[config.target]
    return f"platform {config.name}: {where}"


def _from_hub(model: ModelDeployment) -> bool:
    return not model.is_demo and not model.is_local_path


def _replicas(count: int) -> str:
    return f"{count} replica" if count == 1 else f"{count} replicas"


def _source_lines(model: ModelDeployment) -> list[str]:
    """The model's source in lines short enough to sit under an icon: ``org/`` and the name for hub ids."""
    if model.is_demo:
        return ["demo model (tiny, offline)"]
    source = model.source
    if _from_hub(model) and "/" in source and len(source) > 24:
        org, name = source.split("/", 1)
        return [f"{org}/", name]
    return [source if len(source) <= 40 else "…" + source[-39:]]


def _pod_label(model: ModelDeployment, placement: Placement | None) -> str:
    if placement is not None:
        gpus = f"{placement.resources.gpus} GPU per pod"
    elif model.engine.tensor_parallel_size:
        gpus = f"{model.engine.tensor_parallel_size} GPU per pod"
    else:
        gpus = "GPUs sized at deploy"
    lines = [f"vLLM · {model.model_name}", *_source_lines(model), gpus, _replicas(model.replicas)]
    if placement is not None:
        lines.append(f"TP {placement.tensor_parallel_size} · max-model-len {placement.max_model_len}")
    return "\n".join(lines)


def _gpu_node_label(pool: GpuPool, placement: Placement | None) -> str:
    if placement is None:
        families = " | ".join(f"{family}.*" for family in pool.instance_families)
        return f"GPU nodes: {families}\ntype picked at deploy"
    # Older or hand-built placements leave the instance's GPU count at 0: then show the GPU model alone.
    count = f"{placement.instance_gpu_count}× " if placement.instance_gpu_count else ""
    prices = []
    for capacity in pool.capacity_types:
        if capacity == "spot":
            approx = "~" if placement.spot_is_estimate else ""
            prices.append(f"spot {approx}${placement.spot_usd_per_hour:.2f}/h")
        else:
            prices.append(f"on-demand ${placement.on_demand_usd_per_hour:.2f}/h")
    return "\n".join(
        [
            f"GPU node {placement.instance_type}",
            f"{count}{placement.gpu_name} {placement.gpu_memory_gib:g} GiB",
            *prices,
        ]
    )


def _pool_label(pool: GpuPool) -> str:
    return f"Karpenter NodePool {pool.name} · {' + '.join(pool.capacity_types)}"


def _secrets(builder: GraphBuilder, config: PlatformConfig, cluster: str) -> tuple[str, str | None]:
    """The HF token secret (every cluster platform has it; pods mount it) and the API key secret (when on)."""
    names = config.secrets
    hf_secret = builder.node("hf_secret", f"Secret {names.hf_secret_name}\nkey {names.hf_token_key}", "secret", cluster)
    api_secret = None
    if config.endpoint.api_key.enabled:
        key = config.endpoint.api_key
        api_secret = builder.node(
            "api_key_secret", f"Secret {key.secret_name}\nkey {key.secret_key}", "secret", cluster
        )
    return hf_secret, api_secret


def _model_inputs(
    builder: GraphBuilder,
    config: PlatformConfig,
    pods: Mapping[str, str],
    hf_secret: str,
    api_secret: str | None,
) -> None:
    """Weights and secrets flowing into each pod."""
    hub = None
    if any(_from_hub(model) for model in config.models):
        hub = builder.node("hf_hub", "HuggingFace Hub\nhuggingface.co", "model_hub")
    for model in config.models:
        pod = pods[model.name]
        if hub is not None and _from_hub(model):
            builder.edge(hub, pod, "weights", "data")
        builder.edge(hf_secret, pod, "HF token (mounted)", "data")
        if api_secret is not None:
            builder.edge(api_secret, pod, "VLLM_API_KEY", "data")
    if api_secret is not None and "gateway" in {n.id for n in builder.nodes}:
        builder.edge(api_secret, "gateway", "API key", "data")


def _cluster_notes(builder: GraphBuilder, config: PlatformConfig) -> None:
    for model in config.models:
        if not _from_hub(model):
            builder.notes.append(
                f"model {model.name}: {model.source!r} is not a HuggingFace id; a cluster cannot load it "
                "(use the local target, or a HuggingFace id)"
            )


def _clients_label(config: PlatformConfig, load_balanced: bool) -> str:
    exposure = config.endpoint.exposure
    if load_balanced and exposure.scheme == "internet-facing":
        ranges = exposure.source_ranges
        shown = ", ".join(ranges[:2]) + (f" +{len(ranges) - 2}" if len(ranges) > 2 else "")
        return f"Clients\n{shown}"
    if config.traits.owns_infrastructure:
        return "Clients\nin the VPC or\npeered networks"
    return "Clients"


# --- aws ----------------------------------------------------------------------------------------------------


def _aws(builder: GraphBuilder, config: PlatformConfig, placements: Mapping[str, Placement]) -> None:
    aws = config.aws
    load_balanced = service_type(config) == "LoadBalancer"
    gpu = config.pools.gpu
    cpu = config.pools.cpu

    clients = builder.node("clients", _clients_label(config, load_balanced), "clients")
    region = builder.cluster("aws", f"AWS {aws.region}", "region")
    vpc_label = (
        f"VPC {aws.vpc_id} (existing)" if aws.vpc_id else f"VPC {aws.new_vpc_cidr} (new) · {aws.availability_zones} AZs"
    )
    vpc = builder.cluster("vpc", vpc_label, "vpc", region)
    eks = builder.cluster(
        "eks",
        f"EKS {config.cluster_name} · Kubernetes {aws.cluster_version} · private subnets",
        "kubernetes",
        vpc,
    )
    nodes = aws.system_nodes
    system = builder.cluster(
        "system_nodes",
        f"managed node group · {nodes.desired_size} × {', '.join(system_instance_types(config))}",
        "node_group",
        eks,
    )
    pool = builder.cluster("gpu_pool", _pool_label(gpu), "node_pool", eks)

    karpenter = builder.node("karpenter", f"Karpenter {aws.karpenter_version}", "autoscaler", system)
    lb_controller = builder.node(
        "lb_controller",
        "AWS Load Balancer\nController " + LB_CONTROLLER_APP_VERSIONS[aws.lb_controller_version],
        "lb_controller",
        system,
    )
    cpu_pool = builder.node(
        "cpu_pool",
        f"NodePool {cpu.name}\n{'/'.join(cpu.instance_categories)} · {' + '.join(cpu.capacity_types)}",
        "node_pool",
        eks,
    )
    queue = builder.node("interruption_queue", "SQS\ninterruption queue", "queue", region)
    rules = builder.node("interruption_rules", f"EventBridge rules\n{_INTERRUPTION_RULES}", "event_rules", region)
    hf_secret, api_secret = _secrets(builder, config, eks)

    gateway = draw_entry(
        builder, config, clients, gateway_parent=system, service_parent=eks, nlb_parent=vpc, lb_controller=lb_controller
    )
    pods: dict[str, str] = {}
    for model in config.models:
        placement = placements.get(model.name)
        gpu_node = builder.node(part_id("gpu_node", model.name), _gpu_node_label(gpu, placement), "gpu_node", pool)
        pods[model.name] = builder.node(part_id("pod", model.name), _pod_label(model, placement), "pod", pool)
        builder.edge(gpu_node, pods[model.name], "runs", "control")
        builder.edge(karpenter, gpu_node, "launches", "control")
    draw_models(builder, config, gateway, pods, interceptor_parent=system, service_parent=eks)

    _model_inputs(builder, config, pods, hf_secret, api_secret)
    builder.edge(karpenter, cpu_pool, "launches", "control")
    builder.edge(rules, queue, "EC2 events", "control", constraint=False)
    builder.edge(queue, karpenter, "drain before reclaim", "control")


# --- kubernetes ---------------------------------------------------------------------------------------------


def _kubernetes(builder: GraphBuilder, config: PlatformConfig, placements: Mapping[str, Placement]) -> None:
    kube = config.kubernetes
    kind = service_type(config)
    clients = builder.node("clients", _clients_label(config, kind == "LoadBalancer"), "clients")
    context = kube.context or "current context"
    cluster = builder.cluster("k8s", f"Kubernetes · {context} · namespace {kube.namespace}", "kubernetes")
    karpenter = config.uses_karpenter
    if karpenter:
        gpu_nodes = builder.cluster("gpu_pool", _pool_label(config.pools.gpu), "node_pool", cluster)
        cpu_nodes = builder.cluster("cpu_pool", f"Karpenter NodePool {config.pools.cpu.name}", "node_pool", cluster)
    else:
        gpu_nodes = builder.cluster("gpu_nodes", "GPU nodes · nvidia.com/gpu", "node_pool", cluster)
        cpu_nodes = cluster
    hf_secret, api_secret = _secrets(builder, config, cluster)
    gateway = draw_entry(builder, config, clients, gateway_parent=cpu_nodes, service_parent=cluster)

    pods: dict[str, str] = {}
    for model in config.models:
        placement = placements.get(model.name)
        pod = pods[model.name] = builder.node(
            part_id("pod", model.name), _pod_label(model, placement), "pod", gpu_nodes
        )
        if karpenter:
            gpu_node = builder.node(
                part_id("gpu_node", model.name),
                _gpu_node_label(config.pools.gpu, placement),
                "gpu_node",
                gpu_nodes,
            )
            builder.edge(gpu_node, pod, "runs", "control")
    draw_models(builder, config, gateway, pods, interceptor_parent=cluster, service_parent=cluster)
    _model_inputs(builder, config, pods, hf_secret, api_secret)


# --- local --------------------------------------------------------------------------------------------------


def _servers_label(model: ModelDeployment, count: int) -> str:
    """A model's vLLM servers on this machine (targets.local: ``<model>-<replica>``, each on a free port)."""
    if count == 0:
        return f"vLLM · {model.model_name}\nno server (replicas: 0)"
    names = [f"{model.name}-{replica}" for replica in range(count)]
    shown = ", ".join(names) if count <= 3 else f"{names[0]} … {names[-1]}"
    if count == 1:
        return f"vLLM · {model.model_name}\n1 server: {shown}\non a free loopback port"
    return f"vLLM · {model.model_name}\n{count} servers: {shown}\neach on a free port"


def _local(builder: GraphBuilder, config: PlatformConfig) -> None:
    """Client -> the gateway's one port -> the gateway -> each model's servers -> their files (targets.local)."""
    local = config.local
    clients = builder.node("clients", "Client\nthis machine", "clients")
    host = builder.cluster("host", "this machine · local target", "host")
    port = str(local.port) if local.port is not None else "(free port)"
    endpoint = builder.node("endpoint", f"{local.host}:{port}\none endpoint · /v1", "endpoint", host)
    gateway = draw_gateway(builder, config, host)
    builder.edge(clients, endpoint, client_edge_label(config))
    builder.edge(endpoint, gateway)
    hub = None
    for model in config.models:
        count = local_replicas(model)
        process = builder.node(part_id("process", model.name), _servers_label(model, count), "process", host)
        if model.is_demo:
            files_label = "demo model\nbuilt offline, cached\nin the inferctl home"
        elif model.is_local_path:
            files_label = f"model files\n{model.source}"
        else:
            files_label = f"HuggingFace cache\n{model.source}"
        files = builder.node(part_id("files", model.name), files_label, "model_files", host)
        if count:  # a model with no server is not routed
            builder.edge(gateway, process, f"model {model.model_name}")
        builder.edge(process, files, "loads", "data")
        if _from_hub(model):
            if hub is None:
                hub = builder.node("hf_hub", "HuggingFace Hub\nhuggingface.co", "model_hub")
            token = " · HF_TOKEN from your shell" if model.is_gated else ""
            builder.edge(hub, files, f"download{token}", "data")
