"""inferctl.errors.output_file: every file a user names (init's path, diagram --out, bench --plot) is written
through it, so a refusal reads the same everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferctl.cli.app import main
from inferctl.errors import UserError, output_file


def test_the_folder_is_made_and_the_file_written(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.txt"
    with output_file(target, "--out") as path:
        path.write_text("x", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "x"


def test_a_file_in_the_way_is_one_line_naming_the_option(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("", encoding="utf-8")
    target = tmp_path / "afile" / "out.txt"
    with pytest.raises(UserError) as caught, output_file(target, "--out") as path:
        path.write_text("x", encoding="utf-8")
    assert caught.value.exit_code == 2
    assert caught.value.message == f"cannot write {target} ({tmp_path / 'afile'} is a file); choose another --out"
    deeper = tmp_path / "afile" / "sub" / "out.txt"
    with pytest.raises(UserError, match=r"\(Not a directory\); choose another --plot$"), output_file(deeper, "--plot"):
        pass
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_init_into_an_impossible_folder_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("", encoding="utf-8")
    assert main(["init", str(tmp_path / "afile" / "inferctl.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.endswith("choose another path")
