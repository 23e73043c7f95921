"""The target-independent architecture graph: nodes in nested clusters, joined by edges. Pure data.

Both renderers (``diagrams``/graphviz pictures and mermaid text) draw this one model, so the picture and the
text always show the same parts. Labels use ``\\n`` for line breaks; ids are stable identifiers
(``[a-z][a-z0-9_]*``) so golden files and tests can name them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

NodeKind = Literal[
    "clients",  # whoever calls the OpenAI-compatible API
    "load_balancer",  # the NLB the AWS Load Balancer Controller creates for the gateway's Service
    "service",  # a Kubernetes Service
    "gateway",  # the model gateway: the platform's one entry, routing by model
    "interceptor",  # the KEDA HTTP add-on's interceptor, holding a sleeping model's requests while it wakes
    "pod",  # vLLM model-server pods of one Deployment
    "gpu_node",  # the GPU instances a model's pods run on
    "node_pool",  # a Karpenter NodePool drawn as one box (nothing of ours runs on it yet)
    "autoscaler",  # Karpenter
    "lb_controller",  # the AWS Load Balancer Controller
    "queue",  # the SQS interruption queue
    "event_rules",  # the EventBridge rules that feed the queue
    "secret",  # a Kubernetes Secret
    "model_hub",  # the HuggingFace hub
    "endpoint",  # a local listening address
    "process",  # a local vLLM server process
    "model_files",  # weights on disk
]

ClusterKind = Literal["region", "vpc", "kubernetes", "node_group", "node_pool", "host"]

# request: the path a completion request takes; data: weights and secrets flowing in;
# control: who manages or launches what.
EdgeKind = Literal["request", "data", "control"]

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
# Words graphviz (DOT) and mermaid treat as keywords; an id spelled like one would break the output.
_RESERVED_IDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict", "end", "style", "class"})


@dataclass(frozen=True)
class DiagramNode:
    id: str
    label: str
    kind: NodeKind
    cluster: str | None = None  # id of the innermost cluster that holds the node


@dataclass(frozen=True)
class DiagramCluster:
    id: str
    label: str
    kind: ClusterKind
    parent: str | None = None


@dataclass(frozen=True)
class DiagramEdge:
    source: str
    target: str
    label: str = ""
    kind: EdgeKind = "request"
    # False: a layout hint for arrows that point back against the request flow (a controller managing the load
    # balancer in front of it); graphviz then does not rank the target after the source.
    constraint: bool = True


@dataclass(frozen=True)
class ArchitectureGraph:
    """What a platform looks like: ``title``, then clusters, nodes and edges in drawing order."""

    title: str
    target: str
    clusters: tuple[DiagramCluster, ...]
    nodes: tuple[DiagramNode, ...]
    edges: tuple[DiagramEdge, ...]
    notes: tuple[str, ...] = ()  # what the picture could not know (e.g. sizing unavailable)

    def node(self, node_id: str) -> DiagramNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def child_clusters(self, parent: str | None) -> list[DiagramCluster]:
        return [cluster for cluster in self.clusters if cluster.parent == parent]

    def nodes_in(self, cluster: str | None) -> list[DiagramNode]:
        return [node for node in self.nodes if node.cluster == cluster]

    def cluster_path(self, node_id: str) -> tuple[str, ...]:
        """Ids of the clusters around a node, outermost first."""
        by_id = {cluster.id: cluster for cluster in self.clusters}
        path: list[str] = []
        current = self.node(node_id).cluster
        while current is not None:
            path.append(current)
            current = by_id[current].parent
        return tuple(reversed(path))

    def edge_set(self) -> set[tuple[str, str]]:
        return {(edge.source, edge.target) for edge in self.edges}

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "target": self.target,
            "clusters": [vars(cluster) for cluster in self.clusters],
            "nodes": [vars(node) for node in self.nodes],
            "edges": [vars(edge) for edge in self.edges],
            "notes": list(self.notes),
        }


@dataclass
class GraphBuilder:
    """Collects parts in order and checks that every id is well formed, unique and refers to something."""

    title: str
    target: str
    clusters: list[DiagramCluster] = field(default_factory=list)
    nodes: list[DiagramNode] = field(default_factory=list)
    edges: list[DiagramEdge] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _ids: set[str] = field(default_factory=set)

    def cluster(self, cluster_id: str, label: str, kind: ClusterKind, parent: str | None = None) -> str:
        self._claim(cluster_id)
        if parent is not None and parent not in {c.id for c in self.clusters}:
            raise ValueError(f"cluster {cluster_id!r}: unknown parent {parent!r}")
        self.clusters.append(DiagramCluster(cluster_id, label, kind, parent))
        return cluster_id

    def node(self, node_id: str, label: str, kind: NodeKind, cluster: str | None = None) -> str:
        self._claim(node_id)
        if cluster is not None and cluster not in {c.id for c in self.clusters}:
            raise ValueError(f"node {node_id!r}: unknown cluster {cluster!r}")
        self.nodes.append(DiagramNode(node_id, label, kind, cluster))
        return node_id

    def edge(
        self,
        source: str,
        target: str,
        label: str = "",
        kind: EdgeKind = "request",
        *,
        constraint: bool = True,
    ) -> None:
        known = {n.id for n in self.nodes}
        for end in (source, target):
            if end not in known:
                raise ValueError(f"edge {source!r} -> {target!r}: unknown node {end!r}")
        self.edges.append(DiagramEdge(source, target, label, kind, constraint))

    def build(self) -> ArchitectureGraph:
        return ArchitectureGraph(
            title=self.title,
            target=self.target,
            clusters=tuple(self.clusters),
            nodes=tuple(self.nodes),
            edges=tuple(self.edges),
            notes=tuple(self.notes),
        )

    def _claim(self, part_id: str) -> None:
        if not _ID.match(part_id) or part_id in _RESERVED_IDS:
            raise ValueError(f"diagram id {part_id!r} must match [a-z][a-z0-9_]* and not be a DOT/mermaid keyword")
        if part_id in self._ids:
            raise ValueError(f"diagram id {part_id!r} is used twice")
        self._ids.add(part_id)


def part_id(prefix: str, name: str) -> str:
    """An id for a per-model part: ``pod`` + ``llama-3`` -> ``pod_llama_3`` (model names are DNS labels)."""
    return f"{prefix}_{name.replace('-', '_')}"
