"""``inferctl plan`` end to end through the CLI entry point (tables, JSON, refusals, local target).

The HuggingFace hub is faked as unreachable at huggingface_hub's HTTP seam (tests/support/sizing.py), as it is on
this machine anyway, so hub ids plan from inferctl's packaged config snapshots deterministically.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from inferctl.cli.app import main
from tests.support.sizing import ALWAYS_ON_USD, GPU_NODE_VOLUME_USD, LLAMA_3_70B, FakeHub, fake_hub, fixture_dir

WORKSHOP_MODEL = "meta-llama/Meta-Llama-3-8B-Instruct"
TOKEN = "hf_sentinel_plan_never_printed"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no ./inferctl.yaml
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with fake_hub(FakeHub(offline=True), tmp_path / "hf-cache"):
        yield


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["plan", *argv, "--output", "json"]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)  # stdout holds the JSON and nothing else
    return data


def test_workshop_model_takes_one_a10g(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--target", "aws", "--model", WORKSHOP_MODEL)
    (model,) = data["models"]  # type: ignore[misc]
    placement = model["placement"]
    assert (placement["instance_type"], placement["tensor_parallel_size"], placement["max_model_len"]) == (
        "g5.xlarge",
        1,
        8192,
    )
    assert placement["kv_cache_tokens"] == 24_640 and placement["max_concurrency"] == pytest.approx(3.01)
    assert model["profile"]["origin"] == "packaged snapshot"
    total = ALWAYS_ON_USD + 1.006 + GPU_NODE_VOLUME_USD
    assert data["total"]["on_demand_usd_per_hour"] == pytest.approx(total, abs=1e-4)  # type: ignore[index]


def test_table_shows_the_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--target", "aws", "--model", WORKSHOP_MODEL]) == 0
    out = capsys.readouterr().out
    for text in (
        "g5.xlarge",
        "128 KiB",
        "24,640",
        "3.01 requests of 8,192 tokens",
        "8.03B",
        "EKS control plane",
        "system nodes",
        "total",
        "1.552",
        "idle: $1.552/h",  # one fixed replica: its GPU node never goes
        "--tensor-parallel-size 1",
    ):
        assert text in out, text
    assert TOKEN not in out


def test_llama_70b_takes_tp_8(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--target", "aws", "--model", "meta-llama/Meta-Llama-3-70B")
    placement = data["models"][0]["placement"]  # type: ignore[index]
    assert (placement["instance_type"], placement["tensor_parallel_size"]) == ("g5.48xlarge", 8)


def test_a_directory_on_a_cluster_target_is_refused_as_up_refuses_it(capsys: pytest.CaptureFixture[str]) -> None:
    """Cluster pods cannot read this machine's directories: up refuses such a source, so plan does (the table of
    every shared refusal: test_shared_refusals.py). The local target sizes a directory (below)."""
    assert main(["plan", "--target", "aws", "--model", str(fixture_dir(LLAMA_3_70B))]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "is a directory on this machine, which cluster pods cannot read" in err


def test_impossible_plan_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "inferctl.yaml"
    config.write_text(
        f"target: aws\npools:\n  gpu:\n    instance_families: [g4dn]\nmodels:\n"
        f"  - name: big\n    source: {fixture_dir(LLAMA_3_70B)}\n",
        encoding="utf-8",
    )
    assert main(["plan", "--config", str(config)]) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: big needs 131.4 GiB of GPU memory")
    assert "to pools.gpu.instance_families" in lines[0] and captured.out == ""


def test_live_prices_without_credentials_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["plan", "--target", "aws", "--model", WORKSHOP_MODEL, "--live-prices"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "AWS credentials" in lines[0]


def test_local_target_checks_this_machines_ram(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--model", str(fixture_dir(LLAMA_3_70B)))
    assert data["target"] == "local"
    # The keys and their order are a contract for scripts (the typed LocalPlatformPlan's to_dict keeps them).
    assert list(data) == ["platform", "target", "models", "gateway", "servers", "memory"]
    assert list(data["models"][0]) == ["name", "source", "profile", "memory", "notes"]  # type: ignore[index]
    memory = data["models"][0]["memory"]  # type: ignore[index]
    assert memory["weights_gib"] == pytest.approx(131.42, abs=0.01)
    assert memory["fits"] is (memory["ram_available_gib"] >= memory["ram_needed_gib"])
    assert "instance_type" not in json.dumps(data)


def test_local_demo_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--model", "demo"]) == 0
    out = capsys.readouterr().out
    assert "target local" in out and "demo" in out and "RAM" in out


def test_local_plan_shows_the_gateway_and_each_server(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Two models, one with two replicas: three vLLM servers behind one gateway, each with its share of memory;
    the RAM check adds them up."""
    config = tmp_path / "two.yaml"
    config.write_text(
        "models:\n  - name: demo\n    source: demo\n    replicas: 2\n  - name: other\n    source: demo\n"
        "local:\n  kv_cache_gib: 2\n",
        encoding="utf-8",
    )
    data = _json(capsys, "--config", str(config))
    gateway, servers, memory = data["gateway"], data["servers"], data["memory"]
    assert gateway["policy"] == "cache_aware" and gateway["port"] == "(a free port)"  # type: ignore[index]
    assert [(s["server"], s["kv_cache_gib"]) for s in servers] == [  # type: ignore[attr-defined]
        ("demo-0", 2), ("demo-1", 2), ("other-0", 2),
    ]  # fmt: skip
    per_server = servers[0]["ram_needed_gib"]  # type: ignore[index]
    assert memory["ram_needed_gib"] == pytest.approx(3 * per_server, abs=0.02)  # type: ignore[index]
    assert memory["fits"] is (memory["ram_available_gib"] >= memory["ram_needed_gib"])  # type: ignore[index]
    assert main(["plan", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "gateway" in out and "demo-1" in out and "other-0" in out


def _config(tmp_path: Path, *, replicas: int, expire_after: str, capacity: str) -> str:
    path = tmp_path / "disruption.yaml"
    path.write_text(
        "name: genai\ntarget: aws\n"
        f"models:\n  - name: llama\n    source: {WORKSHOP_MODEL}\n    replicas: {replicas}\n"
        f"pools:\n  gpu:\n    expire_after: {expire_after}\n    capacity_types: [{capacity}]\n",
        encoding="utf-8",
    )
    return str(path)


@pytest.mark.parametrize(
    ("replicas", "expire_after", "capacity", "expected"),
    [
        (1, "720h", "on-demand", ["GPU nodes expire after 720h"]),
        (1, "Never", "spot, on-demand", ["may run on spot capacity"]),
        (1, "720h", "spot", ["GPU nodes expire after 720h", "may run on spot capacity"]),
        (1, "Never", "on-demand", []),
        (2, "720h", "spot", []),
    ],
    ids=["expiry", "spot", "both", "on-demand-never", "two-replicas"],
)
def test_plan_warns_when_a_single_replica_is_interrupted_by_design(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    replicas: int,
    expire_after: str,
    capacity: str,
    expected: list[str],
) -> None:
    config = _config(tmp_path, replicas=replicas, expire_after=expire_after, capacity=capacity)
    data = _json(capsys, "--config", config)
    warnings = data["warnings"]
    assert isinstance(warnings, list) and len(warnings) == len(expected)
    for text, warning in zip(expected, warnings, strict=True):
        assert text in warning and "models[].replicas: 2" in warning
    assert main(["plan", "--config", config]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == len(expected)


def test_default_plan_sizes_the_starter_model_offline(capsys: pytest.CaptureFixture[str]) -> None:
    """No config, no hub: the starter model's packaged config sizes it (it failed before the snapshot had it)."""
    assert main(["plan"]) == 0
    out = capsys.readouterr().out
    assert "target local" in out and "RAM" in out
    assert "packaged snapshot of HuggingFaceTB/SmolLM2-135M-Instruct" in " ".join(out.split())
