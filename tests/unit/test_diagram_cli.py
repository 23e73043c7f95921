"""``inferctl diagram`` through typer: format choice, mermaid on stdout, JSON output, files written."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from inferctl.cli.diagram import DiagramFormat, register, resolve_output
from inferctl.errors import ConfigError, UserError
from tests.support.diagram import WORKSHOP_YAML

Invoke = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """``inferctl diagram ARGS`` in a directory holding the workshop's inferctl.yaml."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inferctl.yaml").write_text(WORKSHOP_YAML, encoding="utf-8")
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Keep 'diagram' a subcommand, as in the real app."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["diagram", *args])

    return invoke


def test_mermaid_goes_to_stdout(run: Invoke) -> None:
    result = run("--format", "mermaid", "--no-sizing")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('---\ntitle: "platform genai: vLLM on EKS + Karpenter in us-east-1"')
    assert "nlb{{" in result.stdout and "gateway{{" in result.stdout


def test_target_flag_overrides_the_file(run: Invoke) -> None:
    result = run("--format", "mermaid", "--target", "local")
    assert result.exit_code == 0, result.output
    assert "process_llama3" in result.stdout and "nlb{{" not in result.stdout


def test_json_report_carries_graph_and_mermaid(run: Invoke) -> None:
    result = run("--format", "mermaid", "--no-sizing", "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["target"] == "aws" and report["file"] is None
    assert {"clients", "pod_llama3"} <= {node["id"] for node in report["graph"]["nodes"]}
    assert report["mermaid"].startswith("---")


def test_mermaid_file_by_suffix(run: Invoke, tmp_path: Path) -> None:
    result = run("--out", "docs/arch.mmd", "--no-sizing")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "docs" / "arch.mmd").read_text(encoding="utf-8").startswith("---")


def test_png_by_default(run: Invoke, tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed (test_diagram_image fails for that under CI)")
    result = run("--no-sizing")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "architecture.png").read_bytes().startswith(b"\x89PNG")
    assert "wrote architecture.png" in result.stdout


@pytest.mark.parametrize("suffix", ["mmd", "png"])
def test_an_unwritable_out_is_one_user_error(run: Invoke, tmp_path: Path, suffix: str) -> None:
    if suffix == "png" and shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed (test_diagram_image fails for that under CI)")
    (tmp_path / "afile").write_text("", encoding="utf-8")
    result = run("--out", f"afile/arch.{suffix}", "--no-sizing")
    assert isinstance(result.exception, UserError), result.exception
    assert str(result.exception).startswith(f"cannot write afile/arch.{suffix} (")
    assert str(result.exception).endswith("choose another --out")


def test_conflicting_suffix_and_format_is_a_config_error(run: Invoke) -> None:
    result = run("--out", "x.png", "--format", "svg")
    assert isinstance(result.exception, ConfigError)
    assert "make them agree" in str(result.exception)


def test_resolve_output_rules() -> None:
    assert resolve_output(None, None) == (DiagramFormat.png, Path("architecture.png"))
    assert resolve_output(None, DiagramFormat.svg) == (DiagramFormat.svg, Path("architecture.svg"))
    assert resolve_output(None, DiagramFormat.mermaid) == (DiagramFormat.mermaid, None)
    assert resolve_output(Path("a/b.SVG"), None) == (DiagramFormat.svg, Path("a/b.SVG"))
    with pytest.raises(ConfigError, match=r"\.png, \.svg or \.mmd"):
        resolve_output(Path("b.jpg"), None)
