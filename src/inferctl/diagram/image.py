"""Architecture graph -> PNG or SVG with the ``diagrams`` library (AWS/Kubernetes icons) and graphviz.

:func:`build_digraph` builds the library's graphviz ``Digraph`` without running anything, so tests can
read the nodes and edges the picture will have; :func:`render_image` then pipes it through ``dot``.
``diagrams`` and ``graphviz`` are imported inside functions: they are an optional extra and
``inferctl --help`` must stay fast.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Literal

from inferctl.diagram.graph import ArchitectureGraph, EdgeKind, NodeKind
from inferctl.errors import MissingDependencyError, OperationError, output_file

ImageFormat = Literal["png", "svg"]

GRAPHVIZ_MISSING = (
    "graphviz is not installed: apt-get install graphviz (Debian/Ubuntu) or brew install graphviz; "
    "or use --format mermaid"
)
DIAGRAMS_MISSING = "the diagrams library is not installed: pip install 'inferctl[diagram]'; or use --format mermaid"

# Icon class per node kind, as "module:ClassName" inside the diagrams package (resolved lazily).
_ICONS: dict[NodeKind, str] = {
    "clients": "diagrams.onprem.client:Users",
    "load_balancer": "diagrams.aws.network:ElbNetworkLoadBalancer",
    "service": "diagrams.k8s.network:SVC",
    "gateway": "diagrams.k8s.network:Ingress",
    "interceptor": "diagrams.k8s.clusterconfig:HPA",
    "pod": "diagrams.k8s.compute:Pod",
    "gpu_node": "diagrams.aws.compute:EC2Instances",
    "node_pool": "diagrams.aws.compute:EC2Instances",
    "autoscaler": "diagrams.aws.compute:EC2AutoScaling",
    "lb_controller": "diagrams.aws.network:ElasticLoadBalancing",
    "queue": "diagrams.aws.integration:SimpleQueueServiceSqs",
    "event_rules": "diagrams.aws.integration:Eventbridge",
    "secret": "diagrams.k8s.podconfig:Secret",
    "model_hub": "diagrams.onprem.network:Internet",
    "endpoint": "diagrams.generic.network:Router",
    "process": "diagrams.programming.language:Python",
    "model_files": "diagrams.generic.storage:Storage",
}

# The request path is bold; weights and secrets dashed; management dotted.
_EDGE_STYLES: dict[EdgeKind, dict[str, str]] = {
    "request": {"color": "#1F5F99", "penwidth": "2.4", "fontcolor": "#1F5F99"},
    "data": {"color": "#5C6B77", "style": "dashed", "penwidth": "1.4", "fontcolor": "#5C6B77"},
    "control": {"color": "#8E44AD", "style": "dotted", "penwidth": "1.8", "fontcolor": "#8E44AD"},
}

_GRAPH_ATTRS = {
    "splines": "spline",  # ortho (the library's default) cannot place edge labels
    "pad": "0.3",
    "nodesep": "0.35",
    "ranksep": "0.9",
    "fontsize": "28",
    "labelloc": "t",
}
_NODE_ATTRS = {"fontsize": "17"}
_EDGE_FONT = {"fontsize": "15", "fontname": "Sans-Serif"}
_CLUSTER_ATTRS = {"margin": "16", "fontsize": "19"}
ICON_POINTS = 64  # icon edge length; the text below it sets the node's width


def _icon_class(kind: NodeKind) -> Any:
    import importlib

    module_name, class_name = _ICONS[kind].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def _icon_path(icon_class: Any) -> str:
    import diagrams

    return str(Path(diagrams.__file__).parent.parent / icon_class._icon_dir / icon_class._icon)


def _node_label(label: str, icon: str) -> str:
    """An HTML-like label: the icon above the text (first line bold), so graphviz sizes the node to its text.

    The library's own labels sit in a fixed-size box and spill into neighbours when the text is wider.
    """
    first, *rest = [html.escape(line, quote=False) for line in label.split("\n")]
    text = f"<B>{first}</B>" + "".join(f"<BR/>{line}" for line in rest)
    size = ICON_POINTS
    image = f'<IMG SRC="{html.escape(icon)}" SCALE="TRUE"/>'
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        f'<TR><TD FIXEDSIZE="TRUE" WIDTH="{size}" HEIGHT="{size}">{image}</TD></TR>'
        f"<TR><TD>{text}</TD></TR></TABLE>>"
    )


def build_digraph(graph: ArchitectureGraph) -> Any:
    """The ``graphviz.Digraph`` that ``diagrams`` builds for ``graph`` (nothing is rendered or written)."""
    try:
        import diagrams
    except ImportError:
        raise MissingDependencyError(DIAGRAMS_MISSING) from None

    diagram = diagrams.Diagram(
        graph.title,
        filename="inferctl-architecture",
        direction="LR",
        show=False,
        graph_attr=_GRAPH_ATTRS,
        node_attr=_NODE_ATTRS,
        edge_attr=_EDGE_FONT,
    )
    # The Diagram context manager renders and deletes files on exit; set the context by hand instead.
    diagrams.setdiagram(diagram)
    try:
        drawn: dict[str, Any] = {}

        def add(cluster_id: str | None) -> None:
            for node in graph.nodes_in(cluster_id):
                icon_class = _icon_class(node.kind)
                drawn[node.id] = icon_class(
                    _node_label(node.label, _icon_path(icon_class)),
                    nodeid=node.id,
                    # The icon lives in the label; the node is a plain box sized to it.
                    image="",
                    shape="plain",
                    fixedsize="false",
                    width="0",
                    height="0",
                )
            for child in graph.child_clusters(cluster_id):
                with diagrams.Cluster(child.label, graph_attr=_CLUSTER_ATTRS) as cluster:
                    # The library names a cluster after its label; our ids keep names unique and stable.
                    cluster.dot.name = f"cluster_{child.id}"
                    add(child.id)

        add(None)
        for edge in graph.edges:
            style = {**_EDGE_FONT, **_EDGE_STYLES[edge.kind]}
            if edge.label:
                style["label"] = edge.label
            if not edge.constraint:
                style["constraint"] = "false"
            drawn[edge.source] >> diagrams.Edge(**style) >> drawn[edge.target]
    finally:
        diagrams.setdiagram(None)
        diagrams.setcluster(None)
    return diagram.dot


def render_image(graph: ArchitectureGraph, image_format: ImageFormat) -> bytes:
    """The picture as bytes. SVG output carries its icons inline, so the file stands alone."""
    if shutil.which("dot") is None:
        raise MissingDependencyError(GRAPHVIZ_MISSING)
    digraph = build_digraph(graph)
    import graphviz  # type: ignore[import-untyped]

    try:
        data: bytes = digraph.pipe(format=image_format, quiet=True)
    except graphviz.ExecutableNotFound:
        raise MissingDependencyError(GRAPHVIZ_MISSING) from None
    except subprocess.CalledProcessError as exc:
        reason = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise OperationError(f"graphviz could not draw the diagram: {reason[-1] if reason else exc}") from None
    return _inline_icons(data) if image_format == "svg" else data


def write_image(graph: ArchitectureGraph, path: Path, image_format: ImageFormat) -> Path:
    data = render_image(graph, image_format)
    with output_file(path, "--out"):
        path.write_bytes(data)
    return path


_SVG_IMAGE_HREF = re.compile(rb'xlink:href="([^"]+\.png)"')


def _inline_icons(svg: bytes) -> bytes:
    """Replace icon file paths (inside the installed diagrams package) with data: URIs."""
    import diagrams

    resources = (Path(diagrams.__file__).parent.parent / "resources").resolve()

    def embed(match: re.Match[bytes]) -> bytes:
        icon = Path(match.group(1).decode("utf-8")).resolve()
        if not icon.is_file() or resources not in icon.parents:
            return match.group(0)
        encoded = base64.b64encode(icon.read_bytes())
        return b'xlink:href="data:image/png;base64,' + encoded + b'"'

    return _SVG_IMAGE_HREF.sub(embed, svg)
