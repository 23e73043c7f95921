"""A config whose model autoscales survives the round trip every command makes when a flag overrides the file
(``apply_overrides`` dumps the loaded config and validates it again) and what ``config show`` prints."""

from __future__ import annotations

import pytest
import yaml

from inferctl.config.loader import apply_overrides
from inferctl.config.models import PlatformConfig

AUTOSCALED = {
    "name": "workshop",
    "target": "kubernetes",
    "models": [{"name": "llama3", "source": "demo", "autoscaling": {"min_replicas": 0, "max_replicas": 2}}],
}


@pytest.mark.parametrize("flags", [{"target": "aws"}, {"target": "local"}, {"model": "llama3"}, {"port": 8001}])
def test_flags_on_a_config_with_an_autoscaled_model_are_accepted(flags: dict[str, object]) -> None:
    config = apply_overrides(PlatformConfig.model_validate(AUTOSCALED), **flags)  # type: ignore[arg-type]
    (model,) = config.models
    assert model.autoscaling is not None and model.autoscaling.min_replicas == 0


def test_what_config_show_prints_loads_again() -> None:
    shown = yaml.safe_load(yaml.safe_dump(PlatformConfig.model_validate(AUTOSCALED).model_dump(mode="json")))
    assert PlatformConfig.model_validate(shown).models[0].autoscaling is not None


def test_a_replica_count_beside_autoscaling_is_still_refused() -> None:
    data = {**AUTOSCALED, "models": [{**AUTOSCALED["models"][0], "replicas": 3}]}  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="sets both replicas and autoscaling"):
        PlatformConfig.model_validate(data)
