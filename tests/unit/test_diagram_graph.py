"""The architecture graph model and the graph the ``diagrams`` library builds from it (structure, not pixels)."""

from __future__ import annotations

import pytest

from inferctl.config.models import PlatformConfig
from inferctl.diagram import build_digraph, build_graph, render_mermaid
from inferctl.diagram.graph import GraphBuilder
from tests.support.diagram import fixed_placement, read_dot, workshop_config

WORKSHOP_NODES = {
    "clients": (),
    "hf_hub": (),
    "interruption_queue": ("aws",),
    "interruption_rules": ("aws",),
    "nlb": ("aws", "vpc"),
    "svc_gateway": ("aws", "vpc", "eks"),
    "gateway": ("aws", "vpc", "eks", "system_nodes"),
    "cpu_pool": ("aws", "vpc", "eks"),
    "hf_secret": ("aws", "vpc", "eks"),
    "api_key_secret": ("aws", "vpc", "eks"),
    "karpenter": ("aws", "vpc", "eks", "system_nodes"),
    "lb_controller": ("aws", "vpc", "eks", "system_nodes"),
    "gpu_node_llama3": ("aws", "vpc", "eks", "gpu_pool"),
    "pod_llama3": ("aws", "vpc", "eks", "gpu_pool"),
}

WORKSHOP_EDGES = {
    ("clients", "nlb"),
    ("nlb", "svc_gateway"),
    ("svc_gateway", "gateway"),
    ("gateway", "pod_llama3"),
    ("lb_controller", "nlb"),
    ("api_key_secret", "gateway"),
    ("gpu_node_llama3", "pod_llama3"),
    ("karpenter", "gpu_node_llama3"),
    ("karpenter", "cpu_pool"),
    ("hf_hub", "pod_llama3"),
    ("hf_secret", "pod_llama3"),
    ("api_key_secret", "pod_llama3"),
    ("interruption_rules", "interruption_queue"),
    ("interruption_queue", "karpenter"),
}


def _config(**changes: object) -> PlatformConfig:
    data = workshop_config().model_dump()
    data.update(changes)
    return PlatformConfig.model_validate(data)


def test_workshop_graph_has_every_part_in_its_place() -> None:
    graph = build_graph(workshop_config(), {"llama3": fixed_placement()})
    assert {node.id: graph.cluster_path(node.id) for node in graph.nodes} == WORKSHOP_NODES
    assert graph.edge_set() == WORKSHOP_EDGES


def test_diagrams_library_graph_matches_the_model_for_the_workshop() -> None:
    """Read back the graphviz Digraph that ``diagrams`` built: same nodes, same clusters around them, same edges."""
    dot = read_dot(build_digraph(build_graph(workshop_config(), {"llama3": fixed_placement()})).source)
    assert dot.nodes == WORKSHOP_NODES
    assert dot.edges == WORKSHOP_EDGES
    assert dot.clusters == {"aws", "vpc", "eks", "system_nodes", "gpu_pool"}


def test_diagrams_graph_carries_labels_and_icons() -> None:
    source = build_digraph(build_graph(workshop_config(), {"llama3": fixed_placement()})).source
    assert "NLB genai</B><BR/>internal" in source
    assert "managed node group · 2 × c6g.xlarge" in source
    assert "GPU node g5.xlarge" in source
    assert "elb-network-load-balancer.png" in source  # the AWS NLB icon, not a plain box
    assert "constraint=false" in source  # the controller's arrow does not drag the NLB rightwards


def test_labels_show_what_the_workshop_asked_for() -> None:
    graph = build_graph(workshop_config(), {"llama3": fixed_placement()})
    assert graph.node("nlb").label == "NLB genai\ninternal\none per platform"
    assert graph.node("gateway").label.startswith("model gateway smg 1.13.0\n2 replicas · checks the API key")
    assert graph.node("gpu_node_llama3").label == (
        "GPU node g5.xlarge\n1× A10G 24 GiB\nspot ~$0.40/h\non-demand $1.01/h"
    )
    pod = graph.node("pod_llama3").label
    assert "meta-llama/\nMeta-Llama-3-8B-Instruct" in pod
    assert "\n1 GPU per pod\n1 replica\n" in pod
    assert "max-model-len 8192" in pod
    assert graph.node("hf_secret").label == "Secret hf-secret\nkey hf_api_token"
    labels = {cluster.id: cluster.label for cluster in graph.clusters}
    assert labels["gpu_pool"] == "Karpenter NodePool g5-gpu-karpenter · spot + on-demand"
    assert labels["eks"].startswith("EKS genai · Kubernetes 1.36")


def test_without_a_placement_gpu_nodes_show_the_pool_families() -> None:
    config = workshop_config()
    config.pools.gpu.instance_families = ["g5", "g6e"]
    graph = build_graph(config)
    assert graph.node("gpu_node_llama3").label.startswith("GPU nodes: g5.* | g6e.*")
    assert "GPUs sized at deploy" in graph.node("pod_llama3").label


def test_internet_facing_nlb_shows_scheme_and_allowed_ranges() -> None:
    config = workshop_config()
    config.endpoint.exposure = config.endpoint.exposure.model_validate(
        {"scheme": "internet-facing", "source_ranges": ["203.0.113.0/24"]}
    )
    graph = build_graph(config)
    assert graph.node("nlb").label == "NLB genai\ninternet-facing\nallow 203.0.113.0/24\none per platform"
    assert graph.node("clients").label == "Clients\n203.0.113.0/24"


def test_cluster_ip_on_aws_has_no_load_balancer() -> None:
    config = workshop_config()
    config.endpoint.exposure.service_type = "ClusterIP"
    graph = build_graph(config)
    assert not [node for node in graph.nodes if node.kind == "load_balancer"]
    assert ("clients", "svc_gateway") in graph.edge_set()
    assert "ClusterIP" in graph.node("svc_gateway").label


def test_one_entry_for_every_model_and_a_wake_path_for_a_sleeping_one() -> None:
    data = workshop_config().model_dump()
    data["models"].append({"name": "qwen-small", "source": "Qwen/Qwen2.5-0.5B-Instruct", "replicas": 3})
    data["models"].append(
        {"name": "mistral", "source": "mistralai/Mistral-7B-v0.1", "autoscaling": {"min_replicas": 0}}
    )
    graph = build_graph(PlatformConfig.model_validate(data))
    edges = graph.edge_set()
    assert [node.id for node in graph.nodes if node.kind == "load_balancer"] == ["nlb"]  # one per platform
    for model in ("llama3", "qwen_small", "mistral"):
        assert ("gateway", f"pod_{model}") in edges  # straight to the pods, cache-aware
        assert ("karpenter", f"gpu_node_{model}") in edges
    # the sleeping model: the gateway's wake worker, the interceptor, the model's ClusterIP Service
    assert {("gateway", "interceptor"), ("interceptor", "svc_mistral"), ("svc_mistral", "pod_mistral")} <= edges
    assert graph.cluster_path("interceptor") == ("aws", "vpc", "eks", "system_nodes")
    assert "svc_llama3" not in {node.id for node in graph.nodes}
    assert "3 replicas" in graph.node("pod_qwen_small").label
    assert [node.id for node in graph.nodes].count("clients") == 1


def test_api_key_off_drops_its_secret() -> None:
    config = workshop_config()
    config.endpoint.api_key.enabled = False
    graph = build_graph(config)
    assert "api_key_secret" not in {node.id for node in graph.nodes}
    assert any(edge.label == "OpenAI API (no key)" for edge in graph.edges)


def test_kubernetes_target_shows_only_what_exists_in_a_cluster() -> None:
    graph = build_graph(_config(target="kubernetes"))
    ids = {node.id for node in graph.nodes}
    assert ids == {"clients", "hf_hub", "hf_secret", "api_key_secret", "svc_gateway", "gateway", "pod_llama3"}
    assert {cluster.id for cluster in graph.clusters} == {"k8s", "gpu_nodes"}
    assert graph.cluster_path("pod_llama3") == ("k8s", "gpu_nodes")
    assert graph.cluster_path("gateway") == ("k8s",)
    assert {("clients", "svc_gateway"), ("svc_gateway", "gateway"), ("gateway", "pod_llama3")} <= graph.edge_set()
    assert "ClusterIP" in graph.node("svc_gateway").label


def test_kubernetes_with_karpenter_draws_the_gpu_pool() -> None:
    config = _config(target="kubernetes")
    config.kubernetes.karpenter = True
    graph = build_graph(config, {"llama3": fixed_placement()})
    assert graph.cluster_path("gpu_node_llama3") == ("k8s", "gpu_pool")
    assert graph.cluster_path("gateway") == ("k8s", "cpu_pool")  # the CPU pool, never a GPU node
    assert ("gpu_node_llama3", "pod_llama3") in graph.edge_set()
    assert "karpenter" not in {node.id for node in graph.nodes}  # the controller is not inferctl's there


def test_local_target_is_client_gateway_servers_files() -> None:
    """One endpoint (the gateway's port, targets.local.gateway) in front of every model's servers."""
    config = PlatformConfig.model_validate({"target": "local", "local": {"port": 8011}, "models": [{"name": "demo"}]})
    graph = build_graph(config)
    assert [(edge.source, edge.target) for edge in graph.edges] == [
        ("clients", "endpoint"),
        ("endpoint", "gateway"),
        ("gateway", "process_demo"),
        ("process_demo", "files_demo"),
    ]
    assert graph.node("endpoint").label == "127.0.0.1:8011\none endpoint · /v1"
    assert graph.node("gateway").label == "model gateway smg 1.13.0\nchecks the API key\nroutes by model · cache-aware"
    assert graph.node("process_demo").label == "vLLM · demo\n1 server: demo-0\non a free loopback port"
    assert graph.edges[0].label == "OpenAI API · Bearer key"
    assert {cluster.id for cluster in graph.clusters} == {"host"}
    assert graph.notes == ()


def test_local_target_with_several_models_and_replicas_routes_each_through_the_one_gateway() -> None:
    models = [
        {"name": "a", "served_model_name": "chat"},
        {"name": "b", "replicas": 2},
        {"name": "c", "replicas": 5},
        {"name": "d", "replicas": 0},
        {"name": "e", "autoscaling": {"min_replicas": 0, "max_replicas": 3}},  # locally: one server, nothing scales
    ]
    config = {"target": "local", "endpoint": {"api_key": {"enabled": False}}, "models": models}
    graph = build_graph(PlatformConfig.model_validate(config))
    assert graph.notes == ()  # every model is served at once: no 'one at a time' note
    assert [node.id for node in graph.nodes if node.kind == "endpoint"] == ["endpoint"]
    assert graph.node("endpoint").label.startswith("127.0.0.1:(free port)")
    assert "API key" not in graph.node("gateway").label and graph.edges[0].label == "OpenAI API (no key)"
    routed = {edge.target: edge.label for edge in graph.edges if edge.source == "gateway"}
    assert routed == {"process_a": "model chat", "process_b": "model b", "process_c": "model c", "process_e": "model e"}
    assert graph.node("process_b").label == "vLLM · b\n2 servers: b-0, b-1\neach on a free port"
    assert graph.node("process_c").label.splitlines()[1] == "5 servers: c-0 … c-4"
    assert graph.node("process_d").label == "vLLM · d\nno server (replicas: 0)"  # drawn, never routed
    assert graph.node("process_e").label.splitlines()[1] == "1 server: e-0"


def test_local_hub_model_downloads_with_the_shell_token() -> None:
    config = _config(target="local")
    graph = build_graph(config)
    edge = next(edge for edge in graph.edges if edge.source == "hf_hub")
    assert (edge.target, edge.label) == ("files_llama3", "download · HF_TOKEN from your shell")
    assert graph.node("endpoint").label == "127.0.0.1:(free port)\none endpoint · /v1"


def test_demo_model_on_a_cluster_target_gets_a_note() -> None:
    graph = build_graph(PlatformConfig.model_validate({"target": "aws", "models": [{"name": "demo"}]}))
    assert any("demo" in note and "cannot load" in note for note in graph.notes)
    assert "hf_hub" not in {node.id for node in graph.nodes}


def test_secret_values_never_reach_the_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_SENTINEL_token_value")
    monkeypatch.setenv("INFERCTL_API_KEY", "sk-SENTINEL-key")
    graph = build_graph(workshop_config(), {"llama3": fixed_placement()})
    texts = [render_mermaid(graph), build_digraph(graph).source, repr(graph.to_dict())]
    assert not [text for text in texts if "SENTINEL" in text]


def test_builder_rejects_bad_ids_duplicates_and_dangling_edges() -> None:
    builder = GraphBuilder(title="t", target="aws")
    builder.node("a", "A", "clients")
    with pytest.raises(ValueError, match="used twice"):
        builder.node("a", "again", "clients")
    with pytest.raises(ValueError, match="must match"):
        builder.node("Bad-Id", "x", "clients")
    with pytest.raises(ValueError, match="keyword"):
        builder.node("end", "x", "clients")
    with pytest.raises(ValueError, match="unknown node 'b'"):
        builder.edge("a", "b")
    with pytest.raises(ValueError, match="unknown cluster"):
        builder.node("c", "C", "pod", cluster="nowhere")
