"""Asking sizing for instance types: placements where it answers, a note (never a failure) where it cannot.

``place_model`` is passed in as a plain function standing in for ``inferctl.sizing.place_model``: the point
here is the fallback policy, not sizing's numbers (sizing has its own tests).
"""

from __future__ import annotations

import pytest

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.diagram import build_graph, lookup_placements
from inferctl.diagram import placements as placements_module
from inferctl.errors import PlanError
from inferctl.sizing.placement import Placement
from tests.support.diagram import fixed_placement, workshop_config


def _two_models() -> PlatformConfig:
    data = workshop_config().model_dump()
    data["models"].append({"name": "huge", "source": "meta-llama/Meta-Llama-3-70B-Instruct"})
    return PlatformConfig.model_validate(data)


def test_placements_where_sizing_answers_notes_where_it_cannot() -> None:
    def place(config: PlatformConfig, model: ModelDeployment) -> Placement:
        if model.name == "huge":
            raise PlanError("no g5 instance holds 140 GiB of weights; add g6e or p4d to pools.gpu.instance_families")
        return fixed_placement(model.name)

    lookup = lookup_placements(_two_models(), place)
    assert set(lookup.placements) == {"llama3"}
    assert len(lookup.notes) == 1
    assert lookup.notes[0].startswith("model huge: no placement (no g5 instance holds 140 GiB")
    graph = build_graph(_two_models(), lookup.placements, notes=lookup.notes)
    assert graph.node("gpu_node_llama3").label.startswith("GPU node g5.xlarge")
    assert graph.node("gpu_node_huge").label.startswith("GPU nodes: g5.*")
    assert graph.notes == lookup.notes


def test_network_failure_while_sizing_falls_back() -> None:
    def place(config: PlatformConfig, model: ModelDeployment) -> Placement:
        raise ConnectionRefusedError("huggingface.co unreachable")

    lookup = lookup_placements(workshop_config(), place)
    assert lookup.placements == {}
    assert "huggingface.co unreachable" in lookup.notes[0]


def test_a_bug_in_sizing_is_not_hidden() -> None:
    def place(config: PlatformConfig, model: ModelDeployment) -> Placement:
        raise ZeroDivisionError("bug")

    with pytest.raises(ZeroDivisionError):
        lookup_placements(workshop_config(), place)


def test_local_target_asks_nothing() -> None:
    def place(config: PlatformConfig, model: ModelDeployment) -> Placement:
        raise AssertionError("sizing must not run for the local target")

    assert lookup_placements(PlatformConfig(target="local"), place).placements == {}


def test_without_sizing_in_the_build_every_model_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placements_module, "_sizing_function", lambda: None)
    lookup = lookup_placements(workshop_config())
    assert lookup.placements == {}
    assert lookup.notes == ("sizing is not available; GPU nodes show the pool's instance families",)
