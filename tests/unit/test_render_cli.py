"""``inferctl render``: a YAML stream or a folder with kustomization.yaml, and never a secret value.

Runs the real command (config file -> sizing -> renderers); sizing sizes Llama-3-8B from the catalog's packaged
config.json snapshot, so no network is needed.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from inferctl.cli.app import main

HF_SENTINEL = "hf_SENTINEL_token_cli_51d0"
KEY_SENTINEL = "sk-inferctl-SENTINEL-cli-key-e2a4"

WORKSHOP_YAML = """\
name: genai
target: aws
models:
  - name: llama
    source: meta-llama/Meta-Llama-3-8B-Instruct
"""


@pytest.fixture(autouse=True)
def _sizing_merged() -> None:
    if not hasattr(importlib.import_module("inferctl.sizing"), "plan_platform"):
        pytest.skip("inferctl.sizing.plan_platform (the sizing issue) is not merged yet")


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_TOKEN", HF_SENTINEL)
    monkeypatch.setenv("INFERCTL_API_KEY", KEY_SENTINEL)
    path = tmp_path / "inferctl.yaml"
    path.write_text(WORKSHOP_YAML, encoding="utf-8")
    return path


def _all_text(root: Path) -> str:
    if not root.exists():
        return ""
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file())


def test_stream_to_stdout(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    docs = [d for d in yaml.safe_load_all(out) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "Namespace"
    assert kinds.count("NodePool") == 2 and "Deployment" in kinds and "Service" in kinds


def test_folder_with_kustomization(config_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    assert main(["render", "--config", str(config_file), "--out", str(out)]) == 0
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in out.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    assert kustomization["resources"][0].startswith("01-namespace-")


def test_no_secret_value_in_cli_output_or_files(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "--config", str(config_file)]) == 0
    assert main(["render", "--config", str(config_file), "--out", str(tmp_path / "cli")]) == 0
    captured = capsys.readouterr()
    for output in (captured.out, captured.err, _all_text(tmp_path / "cli")):
        assert HF_SENTINEL not in output and KEY_SENTINEL not in output


def test_local_target_and_demo_model_are_one_line_errors(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "--config", str(config_file), "--target", "local"]) == 2
    assert "--target kubernetes" in capsys.readouterr().err
    demo = tmp_path / "demo.yaml"
    demo.write_text("target: kubernetes\nmodels: [{name: demo, source: demo}]\n", encoding="utf-8")
    assert main(["render", "--config", str(demo)]) == 2
    assert "only on the local target" in capsys.readouterr().err


def test_an_out_folder_that_cannot_be_created_is_a_one_line_error(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file where a folder should be (root ignores permission bits, so a file is the portable obstacle)."""
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder\n", encoding="utf-8")
    for out in (blocker, blocker / "manifests"):
        assert main(["render", "--config", str(config_file), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"cannot write to --out {out}" in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"
