"""Config loading: defaults, the starter file, precise errors (YAML path, line, suggestion), overrides, schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from inferctl.config import (
    STARTER_YAML,
    PlatformConfig,
    apply_overrides,
    json_schema,
    load_config,
    parse_config,
)
from inferctl.errors import ConfigError, NotFoundError


def test_no_file_gives_local_starter_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config, source = load_config(None)
    assert source is None
    assert config.target == "local"
    # The starter model (real words on a CPU), in float32; the random 'demo' is no longer the default.
    assert [(m.name, m.source) for m in config.models] == [("smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct")]
    assert config.models[0].engine.dtype == "float32"
    assert config.models[0].engine.enforce_eager is None  # unset: the target decides (CPU: by model size)
    assert config.endpoint.api_key.enabled is True
    assert config.endpoint.exposure.scheme == "internal"
    assert config.pools.gpu.name == "g5-gpu-karpenter"
    assert config.pools.cpu.name == "x86-cpu-karpenter"
    assert config.secrets.hf_secret_name == "hf-secret"
    assert config.secrets.hf_token_key == "hf_api_token"
    assert config.aws.system_nodes.instance_types == "auto"
    assert config.aws.system_nodes.desired_size == 2


def test_starter_file_parses_to_the_defaults() -> None:
    assert parse_config(STARTER_YAML) == PlatformConfig()


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="inferctl init"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_key_names_path_line_and_closest_key() -> None:
    text = "name: p\nmodels:\n  - name: a\n    engine:\n      max_modl_len: 4096\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, source="x.yaml")
    assert str(err.value) == (
        "x.yaml:5: models[0].engine.max_modl_len: unknown key 'max_modl_len'; did you mean 'max_model_len'?"
    )


def test_unknown_top_level_key_without_close_match_lists_valid_keys() -> None:
    with pytest.raises(ConfigError, match="valid keys: aws, cache, endpoint, kubernetes, local, models, name"):
        parse_config("zzzz: 1\n")


def test_typo_in_target_section() -> None:
    with pytest.raises(ConfigError, match=r"local\.prot: unknown key 'prot'; did you mean 'port'\?"):
        parse_config("local:\n  prot: 8000\n")


def test_wrong_type_and_impossible_values() -> None:
    with pytest.raises(ConfigError, match=r":3: local\.port: Input should be a valid integer"):
        parse_config("name: p\nlocal:\n  port: eighty\n")
    with pytest.raises(ConfigError, match=r"models\[0\]\.engine\.gpu_memory_utilization: .*less than or equal"):
        parse_config("models:\n  - name: a\n    engine:\n      gpu_memory_utilization: 1.5\n")
    with pytest.raises(ConfigError, match=r"models\[0\]\.engine\.tensor_parallel_size"):
        parse_config("models:\n  - name: a\n    engine:\n      tensor_parallel_size: 3\n")
    with pytest.raises(ConfigError, match="two models are named 'a'"):
        parse_config("models:\n  - name: a\n  - name: a\n")
    with pytest.raises(ConfigError, match="DNS label"):
        parse_config("models:\n  - name: My_Model\n")


def test_invalid_yaml_reports_the_line() -> None:
    with pytest.raises(ConfigError, match=r"^f\.yaml:3:\d+: invalid YAML"):
        parse_config("name: p\nlocal:\n  port: 1: 2\n", source="f.yaml")


def test_internet_facing_needs_source_ranges() -> None:
    with pytest.raises(ConfigError, match="internet-facing needs source_ranges"):
        parse_config("endpoint:\n  exposure:\n    scheme: internet-facing\n")
    ok = parse_config("endpoint:\n  exposure:\n    scheme: internet-facing\n    source_ranges: [203.0.113.0/24]\n")
    assert ok.endpoint.exposure.source_ranges == ["203.0.113.0/24"]


@pytest.mark.parametrize(
    ("key", "good", "bad", "error"),
    [
        # Host bits may be set in a load balancer's source ranges, not in the EKS endpoint's public CIDRs.
        (
            "endpoint.exposure.source_ranges",
            ["203.0.113.7/24", "2001:db8::/32"],
            "nope",
            "a CIDR such as 203.0.113.0/24",
        ),
        ("aws.public_access_cidrs", ["203.0.113.0/24"], "203.0.113.7/24", "an IPv4 block such as 203.0.113.7/32"),
        ("aws.private_subnet_ids", ["subnet-0abc1234"], "subnet-xyz", "a subnet id such as subnet-0abc1234def567890"),
        ("pools.gpu.instance_families", ["g5", "g6e", "p4d"], "G6", "an EC2 instance family such as g5, g6e or p4d"),
    ],
)
def test_list_items_are_checked_one_by_one(key: str, good: list[str], bad: str, error: str) -> None:
    """Every item is checked; the error names the first one that is not valid."""
    *sections, field = key.split(".")

    def document(items: list[str]) -> str:
        nested: dict[str, object] = {field: items}
        for section in reversed(sections):
            nested = {section: nested}
        return json.dumps(nested)

    assert parse_config(document(good))
    with pytest.raises(ConfigError) as err:
        parse_config(document([*good, bad, "also bad"]))
    assert str(err.value) == f"inferctl.yaml:1: {key}: {bad!r} is not {error}"


def test_secrets_are_refused_in_the_file() -> None:
    with pytest.raises(ConfigError, match="HF_TOKEN must not be written in the config file"):
        parse_config("models:\n  - name: a\n    engine:\n      env:\n        HF_TOKEN: hf_abc\n")


def test_managed_engine_args_are_refused() -> None:
    with pytest.raises(ConfigError, match="--port is set by inferctl"):
        parse_config("models:\n  - name: a\n    engine:\n      extra_args: ['--port=9']\n")


def test_an_hf_token_argument_is_refused_without_echoing_it() -> None:
    for args in ("['--hf-token', 'hf_secret123']", "['--hf-token=hf_secret123']"):
        with pytest.raises(ConfigError, match="export HF_TOKEN") as err:
            parse_config(f"models:\n  - name: a\n    engine:\n      extra_args: {args}\n")
        assert "hf_secret123" not in str(err.value)


def test_unreadable_config_files_are_one_line(tmp_path: Path) -> None:
    binary = tmp_path / "bad.yaml"
    binary.write_bytes(b"\xff\xfename: x\n")
    with pytest.raises(ConfigError, match=r"cannot read config file .*bad\.yaml \(invalid start byte\)"):
        load_config(binary)
    with pytest.raises(NotFoundError, match="is not a file"):
        load_config(tmp_path)


def test_pools_share_one_name_and_ami_check() -> None:
    for pool in ("gpu", "cpu"):
        with pytest.raises(ConfigError, match=rf"pools\.{pool}\.name: pool name 'Bad_Name' must be a DNS label"):
            parse_config(f"pools:\n  {pool}:\n    name: Bad_Name\n")
        with pytest.raises(ConfigError, match=rf"pools\.{pool}\.ami_alias: .*is not pinned"):
            parse_config(f"pools:\n  {pool}:\n    ami_alias: al2023@latest\n")


def test_overrides_win_over_the_file(tmp_path: Path) -> None:
    base = parse_config("target: kubernetes\nmodels:\n  - name: big\n    source: org/big\n  - name: small\n")
    over = apply_overrides(base, target="local", model="small", port=8123)
    assert over.target == "local"
    assert [m.name for m in over.models] == ["small"]
    assert over.local.port == 8123
    model_dir = tmp_path / "My.Model-7B"
    model_dir.mkdir()
    from_path = apply_overrides(base, model=str(model_dir))
    assert from_path.models[0].name == "my-model-7b"
    assert from_path.models[0].source == str(model_dir.resolve())
    from_hub = apply_overrides(base, model="meta-llama/Meta-Llama-3-8B-Instruct")
    assert from_hub.models[0].name == "meta-llama-3-8b-instruct"
    assert from_hub.models[0].is_gated


def test_model_override_takes_a_served_name_too() -> None:
    """'inferctl endpoint' and /v1/models show the served name; --model accepts it for the deployment it names."""
    base = parse_config(
        "models:\n  - name: qwen\n    source: Qwen/Qwen2.5-7B-Instruct\n    served_model_name: qwen-7b\n"
        "  - name: small\n"
    )
    chosen = apply_overrides(base, model="qwen-7b").models
    assert [(m.name, m.source) for m in chosen] == [("qwen", "Qwen/Qwen2.5-7B-Instruct")]


def test_bad_target_override_suggests() -> None:
    with pytest.raises(ConfigError, match="did you mean 'kubernetes'"):
        apply_overrides(PlatformConfig(), target="kubernets")


def test_json_schema_accepts_the_starter_and_rejects_typos() -> None:
    schema = json.loads(json_schema())
    jsonschema.validate(yaml.safe_load(STARTER_YAML), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"models": [{"name": "a", "engine": {"max_modl_len": 1}}]}, schema)
