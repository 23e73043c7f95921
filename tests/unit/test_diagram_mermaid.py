"""Mermaid output: golden files per target (regenerate with ``UPDATE_GOLDEN=1``) and well-formedness."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from inferctl.config.models import PlatformConfig
from inferctl.diagram import ArchitectureGraph, build_graph, render_mermaid
from tests.support.diagram import fixed_placement, workshop_config
from tests.support.golden import assert_matches_golden

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "diagram"


def _workshop_on(target: str) -> PlatformConfig:
    data = workshop_config().model_dump()
    data["target"] = target
    return PlatformConfig.model_validate(data)


CASES: dict[str, ArchitectureGraph] = {
    "aws-workshop.mmd": build_graph(workshop_config(), {"llama3": fixed_placement()}),
    "aws-workshop-unsized.mmd": build_graph(workshop_config()),
    "kubernetes.mmd": build_graph(_workshop_on("kubernetes"), {"llama3": fixed_placement()}),
    "local-demo.mmd": build_graph(PlatformConfig.model_validate({"target": "local", "models": [{"name": "demo"}]})),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_mermaid_matches_golden(name: str) -> None:
    assert_matches_golden(GOLDEN / name, render_mermaid(CASES[name]))


@pytest.mark.parametrize("name", sorted(CASES))
def test_mermaid_is_well_formed(name: str) -> None:
    graph = CASES[name]
    lines = render_mermaid(graph).splitlines()
    assert lines[:4] == ["---", f'title: "{graph.title}"', "---", "flowchart LR"]
    opened = [line for line in lines if line.strip().startswith("subgraph ")]
    closed = [line for line in lines if line.strip() == "end"]
    assert len(opened) == len(closed) == len(graph.clusters)
    declared = [m.group(1) for line in lines if (m := re.match(r"^\s+(\w+)[\[({]", line))]
    assert sorted(declared) == sorted(node.id for node in graph.nodes)
    arrows = [line for line in lines if re.search(r" (==>|-\.->|-->)", line)]
    assert len(arrows) == len(graph.edges)
    for edge in graph.edges:
        assert edge.source in declared and edge.target in declared


def test_mermaid_escapes_quotes_and_line_breaks() -> None:
    config = PlatformConfig.model_validate({"target": "local", "models": [{"name": "m", "source": './my "odd" dir'}]})
    text = render_mermaid(build_graph(config))
    assert "#quot;odd#quot;" in text
    assert '"odd"' not in text
    assert "vLLM · m<br/>1 server: m-0" in text
