"""Secrets are shapes until applied: no secret value reaches any output inferctl prints or writes."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from inferctl.render import SecretValues, render_platform, render_secrets, write_directory, yaml_stream
from tests.support.render import placements_for, variant_configs, workshop_config

HF_SENTINEL = "hf_SENTINEL_token_6b1f0c"
KEY_SENTINEL = "sk-inferctl-SENTINEL-key-93ad27"


def _all_text(root: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file())


def test_shapes_carry_no_data() -> None:
    hf, key = render_secrets(workshop_config())
    assert (hf["metadata"]["name"], key["metadata"]["name"]) == ("hf-secret", "inferctl-api-key")
    assert "data" not in hf and "stringData" not in hf
    assert "data" not in key and "stringData" not in key
    assert hf["metadata"]["annotations"]["inferctl.io/keys"] == "hf_api_token"


def test_names_follow_the_config_and_a_disabled_key_has_no_secret() -> None:
    config = workshop_config(
        secrets={"hf_secret_name": "hf", "hf_token_key": "token"}, endpoint={"api_key": {"enabled": False}}
    )
    (hf,) = render_secrets(config)
    assert hf["metadata"]["name"] == "hf"
    assert hf["metadata"]["annotations"]["inferctl.io/keys"] == "token"


def test_values_are_injected_only_when_given() -> None:
    config = workshop_config()
    hf, key = render_secrets(config, SecretValues(hf_token=HF_SENTINEL, api_key=KEY_SENTINEL))
    assert base64.b64decode(hf["data"]["hf_api_token"]).decode() == HF_SENTINEL
    assert base64.b64decode(key["data"]["api-key"]).decode() == KEY_SENTINEL
    hf, key = render_secrets(config, {"hf_token": None, "api_key": KEY_SENTINEL})
    assert "data" not in hf and "data" in key
    with pytest.raises(ValueError, match="unknown secret value keys"):
        render_secrets(config, {"HF_TOKEN": HF_SENTINEL})
    assert HF_SENTINEL not in repr(SecretValues(hf_token=HF_SENTINEL, api_key=KEY_SENTINEL))


def test_writers_refuse_secrets_with_data(tmp_path: Path) -> None:
    config = workshop_config()
    objects = render_platform(config, placements_for(config), secret_values=SecretValues(hf_token=HF_SENTINEL))
    with pytest.raises(ValueError, match="carries data"):
        yaml_stream(objects)
    with pytest.raises(ValueError, match="carries data"):
        write_directory(objects, tmp_path / "out")
    assert not (tmp_path / "out").exists() or HF_SENTINEL not in _all_text(tmp_path / "out")


def test_no_secret_value_in_render_output_or_written_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real secrets in the environment, nothing the renderers print or write contains them, for every
    config variant (the CLI's output is checked in test_render_cli.py)."""
    monkeypatch.setenv("HF_TOKEN", HF_SENTINEL)
    monkeypatch.setenv("INFERCTL_API_KEY", KEY_SENTINEL)
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    for name, config in variant_configs().items():
        objects = render_platform(config, placements_for(config))
        text = yaml_stream(objects)
        write_directory(objects, tmp_path / name)
        for output in (text, _all_text(tmp_path / name)):
            assert HF_SENTINEL not in output and KEY_SENTINEL not in output
            for encoded in (base64.b64encode(HF_SENTINEL.encode()), base64.b64encode(KEY_SENTINEL.encode())):
                assert encoded.decode() not in output
