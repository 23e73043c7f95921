"""Target traits: the one table that says what each target means to sizing, rendering and the CLI."""

from __future__ import annotations

import pytest

from inferctl.config import TARGETS, TRAITS, PlatformConfig
from inferctl.render.gateway import render_gateway_service


def test_every_target_has_its_traits() -> None:
    assert set(TRAITS) == set(TARGETS)


@pytest.mark.parametrize("target", TARGETS)
def test_the_traits_decide_what_auto_exposure_renders(target: str) -> None:
    config = PlatformConfig.model_validate({"target": target})
    service = render_gateway_service(config, {})  # the platform's one entry
    expected = "LoadBalancer" if TRAITS[config.target].load_balancer_by_default else "ClusterIP"
    assert service["spec"]["type"] == expected
    assert config.uses_karpenter == (target == "aws")
    assert config.pricing_region == (config.aws.region if target == "aws" else None)
    assert config.traits.needs_confirmation == (target != "local")
