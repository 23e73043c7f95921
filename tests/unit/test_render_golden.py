"""Golden files for the workshop's defaults: both Karpenter pools, the Llama-3-8B-Instruct GPU Deployment on a
g5.xlarge placement (built by hand in tests/support/render.py), the platform's one NLB (the model gateway's Service)
and the rest of the gateway (its identity, policy, budget and Deployment); and, with the model scaled to zero, its
wake and status InterceptorRoutes (the wake timeout from the cold-start estimate: test_wake_estimate).

Regenerate after an intended change with ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_render_golden.py``
and review the diff.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from inferctl.render import render_platform
from inferctl.render.output import HEADER, to_yaml
from tests.support.golden import assert_matches_golden
from tests.support.render import GOLDEN, LLAMA3_8B, by_kind, placements_for, workshop_config

Selector = Callable[[list[dict]], list[dict]]

CASES: dict[str, Selector] = {
    "karpenter-pools.yaml": lambda objs: by_kind(objs, "EC2NodeClass") + by_kind(objs, "NodePool"),
    "deployment-llama-3-8b-instruct.yaml": lambda objs: [
        d for d in by_kind(objs, "Deployment") if d["metadata"]["name"] == "llama-3-8b-instruct"
    ],
    "service-nlb.yaml": lambda objs: [s for s in by_kind(objs, "Service") if s["spec"]["type"] == "LoadBalancer"],
    "gateway.yaml": lambda objs: [
        o
        for o in objs
        if o["metadata"]["labels"].get("app.kubernetes.io/component") == "gateway" and o["kind"] != "Service"
    ],
    "interceptor-routes-llama-3-8b-instruct.yaml": lambda objs: by_kind(objs, "InterceptorRoute"),
}
# Cases rendered from another config than the workshop's defaults.
OVERRIDES: dict[str, dict[str, Any]] = {
    "interceptor-routes-llama-3-8b-instruct.yaml": {
        "models": [{"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0}}]
    },
}


def _render_case(name: str) -> str:
    select = CASES[name]
    config = workshop_config(**OVERRIDES.get(name, {}))
    objects = select(render_platform(config, placements_for(config)))
    assert objects
    return HEADER + "".join(f"---\n{to_yaml(obj)}" for obj in objects)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_golden(name: str) -> None:
    assert_matches_golden(GOLDEN / name, _render_case(name))
