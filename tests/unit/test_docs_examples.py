"""Every shell and Python example of README.md and docs/ runs here, or says why it cannot (tests/support/
doc_examples.py has the rules). The examples that need a running model server run in
tests/e2e/test_docs_examples_e2e.py; those that need a cloud account or a cluster are marked with the reason.

Real parts: each example runs as a reader would run it, the installed ``inferctl`` in a subprocess, in a fresh
directory with its own INFERCTL_HOME.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.support import doc_examples as docs

ALL = docs.examples()
RUNNABLE = [e for e in ALL if e.runs_here]


def test_examples_are_found() -> None:
    """The parser sees the blocks (a broken parser would pass every other test here by finding nothing)."""
    assert len(ALL) >= 20
    assert {e.kind for e in ALL} >= {"shell", "console", "python", "config", "other"}
    assert any(e.mark("skip") for e in ALL) and any(e.mark("local-server") is not None for e in ALL)


def test_every_example_is_classified_and_its_marks_are_sound() -> None:
    found = [problem for example in ALL for problem in docs.problems(example)]
    assert found == []


@pytest.mark.parametrize("page", docs.pages(), ids=lambda p: p.relative_to(docs.REPO).as_posix())
def test_no_indented_code_blocks(page: Path) -> None:
    """An indented block has no language, so it cannot say whether it runs: fence it."""
    assert docs.indented_code_blocks(page) == []


def test_the_readme_is_short_and_its_links_resolve() -> None:
    """README.md holds what a newcomer needs first, under 10 KB, and links into docs/ for the rest. mkdocs checks
    the site's links, not README's, so its relative links are checked here."""
    readme = docs.REPO / "README.md"
    assert readme.stat().st_size < 10_000, "README.md is 10 KB or more: move the detail to a docs/ page"
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme.read_text(encoding="utf-8"))]
    relative = [t for t in targets if t and not re.match(r"^[a-z]+:", t)]
    assert any(t.startswith("docs/") for t in relative)
    assert [t for t in relative if not (docs.REPO / t).exists()] == []


def test_the_problems_are_caught() -> None:
    """The checks above can fail: an unknown language, a reason-less skip, a test that does not exist."""
    bad = [
        docs.Example("x.md", 1, "", "inferctl up\n"),
        docs.Example("x.md", 5, "bash", "inferctl up\n", ["skip"]),
        docs.Example("x.md", 9, "bash", "inferctl up\n", ["covered-by tests/e2e/test_local_e2e.py::test_nothing"]),
        docs.Example("x.md", 13, "bash", "inferctl up\n", ["run-it-somehow"]),
    ]
    assert [len(docs.problems(e)) for e in bad] == [1, 1, 1, 1]


@pytest.mark.parametrize("example", [e for e in RUNNABLE if e.kind == "shell"], ids=lambda e: e.id)
def test_shell_example_runs(example: docs.Example, tmp_path: Path) -> None:
    cwd = docs.workdir(example, tmp_path)
    ran = docs.run_shell(example.body, cwd, docs.environment(tmp_path / "home"))
    assert ran.returncode == 0, f"{example.id} failed (exit {ran.returncode}):\n{example.body}\n{ran.output}"


@pytest.mark.parametrize("example", [e for e in RUNNABLE if e.kind == "console"], ids=lambda e: e.id)
def test_console_transcript_matches(example: docs.Example, tmp_path: Path) -> None:
    cwd = docs.workdir(example, tmp_path)
    env = docs.environment(tmp_path / "home")
    steps = docs.transcript(example.body)
    assert steps, f"{example.id}: a console block needs '$ command' lines"
    for command, expected in steps:
        ran = docs.run_shell(command, cwd, env)
        assert ran.output.rstrip("\n").splitlines() == expected, f"{example.id}: '$ {command}' printed:\n{ran.output}"


@pytest.mark.parametrize("example", [e for e in RUNNABLE if e.kind == "python"], ids=lambda e: e.id)
def test_python_example_runs(example: docs.Example, tmp_path: Path) -> None:
    cwd = docs.workdir(example, tmp_path)
    ran = docs.run_python(example.body, cwd, docs.environment(tmp_path / "home"))
    assert ran.returncode == 0, f"{example.id} failed:\n{ran.output}"


@pytest.mark.parametrize("example", [e for e in RUNNABLE if e.kind == "config"], ids=lambda e: e.id)
def test_config_example_is_valid(example: docs.Example) -> None:
    """A fragment of inferctl.yaml is a valid config on its own (everything it leaves out has a default)."""
    from inferctl.config.loader import parse_config

    assert isinstance(yaml.safe_load(example.body), dict)
    parse_config(example.body, source=example.id)
