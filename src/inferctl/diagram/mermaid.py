"""Architecture graph -> mermaid flowchart text (GitHub and many doc sites draw it; no binary). Pure."""

from __future__ import annotations

import json

from inferctl.diagram.graph import ArchitectureGraph, DiagramNode, EdgeKind, NodeKind

# (opening, closing) bracket pairs: the node's shape says what kind of thing it is.
_SHAPES: dict[NodeKind, tuple[str, str]] = {
    "clients": ("([", "])"),
    "load_balancer": ("{{", "}}"),
    "service": ("([", "])"),
    "gateway": ("{{", "}}"),
    "interceptor": ("[/", "\\]"),
    "pod": ("[", "]"),
    "gpu_node": ("[[", "]]"),
    "node_pool": ("[[", "]]"),
    "autoscaler": ("[", "]"),
    "lb_controller": ("[", "]"),
    "queue": ("[(", ")]"),
    "event_rules": ("[/", "/]"),
    "secret": ("[/", "/]"),
    "model_hub": ("[(", ")]"),
    "endpoint": ("{{", "}}"),
    "process": ("[", "]"),
    "model_files": ("[(", ")]"),
}

# The request path is thick (the main flow); weights and secrets are dotted; management arrows are plain.
_ARROWS: dict[EdgeKind, str] = {"request": "==>", "data": "-.->", "control": "-->"}


def _text(label: str) -> str:
    """A label inside double quotes: mermaid's entity for '"', <br/> for line breaks."""
    return label.replace('"', "#quot;").replace("\n", "<br/>")


def _node_line(node: DiagramNode) -> str:
    opening, closing = _SHAPES[node.kind]
    return f'{node.id}{opening}"{_text(node.label)}"{closing}'


def render_mermaid(graph: ArchitectureGraph) -> str:
    """A ``flowchart LR`` (title in the front matter) with one subgraph per cluster. Same graph, same text."""
    lines = [
        "---",
        f"title: {json.dumps(graph.title, ensure_ascii=False)}",  # a JSON string is a valid YAML scalar
        "---",
        "flowchart LR",
        "    %% generated from the config by `inferctl diagram --format mermaid`; do not edit",
    ]

    def emit(cluster: str | None, depth: int) -> None:
        indent = "    " * depth
        for node in graph.nodes_in(cluster):
            lines.append(indent + _node_line(node))
        for child in graph.child_clusters(cluster):
            lines.append(f'{indent}subgraph {child.id}["{_text(child.label)}"]')
            emit(child.id, depth + 1)
            lines.append(f"{indent}end")

    emit(None, 1)
    for edge in graph.edges:
        arrow = _ARROWS[edge.kind]
        label = f'|"{_text(edge.label)}"|' if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines) + "\n"
