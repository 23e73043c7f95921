"""The architecture picture, drawn from the config so it is always true.

``build_graph`` (pure) turns a config and optional sizing placements into an :class:`ArchitectureGraph`;
``render_mermaid`` (pure) and ``render_image`` / ``write_image`` (``diagrams`` + graphviz, imported lazily)
draw it. ``lookup_placements`` asks sizing for instance types and never fails the picture.
"""

from __future__ import annotations

from inferctl.diagram.architecture import build_graph
from inferctl.diagram.graph import ArchitectureGraph, DiagramCluster, DiagramEdge, DiagramNode
from inferctl.diagram.image import (
    DIAGRAMS_MISSING,
    GRAPHVIZ_MISSING,
    ImageFormat,
    build_digraph,
    render_image,
    write_image,
)
from inferctl.diagram.mermaid import render_mermaid
from inferctl.diagram.placements import PlacementLookup, lookup_placements

__all__ = [
    "DIAGRAMS_MISSING",
    "GRAPHVIZ_MISSING",
    "ArchitectureGraph",
    "DiagramCluster",
    "DiagramEdge",
    "DiagramNode",
    "ImageFormat",
    "PlacementLookup",
    "build_digraph",
    "build_graph",
    "lookup_placements",
    "render_image",
    "render_mermaid",
    "write_image",
]
