"""The serving policy: one gated-model check and one API-key lookup for every target.

Before, the local target accepted HUGGING_FACE_HUB_TOKEN and raised UserError while the cluster targets read only
HF_TOKEN and raised ConfigError; these tests pin the one rule (both variables, as huggingface_hub 2.4 reads them;
ConfigError, exit 2).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inferctl.config import ModelDeployment, PlatformConfig
from inferctl.errors import ConfigError
from inferctl.home import Home
from inferctl.serving import check_gated_models, hf_token_from_env, platform_api_key
from inferctl.targets.kubernetes import KubernetesTarget

GATED = ModelDeployment(name="llama", source="meta-llama/Meta-Llama-3-8B-Instruct")


@pytest.fixture(autouse=True)
def _no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)


def test_a_gated_model_without_a_token_is_a_config_error_naming_the_licence_page() -> None:
    assert GATED.is_gated
    with pytest.raises(ConfigError) as failed:
        check_gated_models([GATED], hf_token_from_env())
    assert failed.value.exit_code == 2
    assert "is gated and HF_TOKEN is not set" in failed.value.message
    assert "https://huggingface.co/meta-llama/Meta-Llama-3-8B-Instruct" in failed.value.message


@pytest.mark.parametrize("variable", ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"])
def test_either_token_variable_counts_on_every_target(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "hf_secret")
    assert hf_token_from_env() == "hf_secret"
    check_gated_models([GATED], hf_token_from_env())
    config = PlatformConfig(target="kubernetes", models=[GATED])
    target = KubernetesTarget(config, Home(Path("/nonexistent")))
    assert not target.needs_hf_token()


def test_an_empty_token_does_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "  ")
    assert hf_token_from_env() is None


def test_the_api_key_is_none_when_the_endpoint_has_none(tmp_path: Path) -> None:
    config = PlatformConfig.model_validate({"endpoint": {"api_key": {"enabled": False}}})
    assert platform_api_key(config, Home(tmp_path)) is None
    on = PlatformConfig()
    key = platform_api_key(on, Home(tmp_path))
    assert key and platform_api_key(on, Home(tmp_path), create=False) == key


def test_one_server_environment_builder_layers_defaults_place_and_the_users_engine_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from inferctl.render import render_platform
    from inferctl.targets.local.server import vllm_env
    from tests.support.render import placements_for

    model = ModelDeployment.model_validate({"name": "tiny", "source": "demo", "engine": {"env": {"DO_NOT_TRACK": "2"}}})
    monkeypatch.setenv("VLLM_API_KEY", "from-the-shell")
    monkeypatch.setenv("VLLM_NO_USAGE_STATS", "0")  # the user's shell wins over our default locally
    local = vllm_env(PlatformConfig(models=[model]).local, model, "k", str(tmp_path), kv_cache_gib=1)
    assert (local["VLLM_API_KEY"], local["VLLM_NO_USAGE_STATS"], local["DO_NOT_TRACK"]) == ("k", "0", "2")
    hub_model = model.model_copy(update={"name": "llama-3-8b-instruct", "source": GATED.source})
    config = PlatformConfig(target="kubernetes", models=[hub_model])
    objects = render_platform(config, placements_for(config))
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (env["VLLM_NO_USAGE_STATS"], env["DO_NOT_TRACK"]) == ("1", "2")
