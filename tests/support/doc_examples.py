"""The code examples of README.md and docs/: found, classified and run as a reader would run them.

A fenced block's language says what it is. ``bash``/``sh``/``shell`` blocks run as one bash script, ``console``
blocks are transcripts (each ``$ command`` runs and its output must match the lines under it), ``python`` blocks
run with the test environment's interpreter; ``yaml`` blocks whose keys are inferctl.yaml's are validated as a
config. Other languages (``text``, ``json``, ``mermaid``...) are not run. An HTML comment on the line right above
a block changes how it runs (several comments may stack):

- ``<!-- example: skip REASON -->``: not run; the reason says what it needs (a cloud account, a cluster, a long
  run);
- ``<!-- example: covered-by tests/e2e/FILE.py::TEST [...] -->``: not run here; the named tests (which must
  exist) do what the block does;
- ``<!-- example: local-server -->``: run by tests/e2e/test_docs_examples_e2e.py against a running local model
  (``http://127.0.0.1:PORT`` and ``sk-inferctl-...`` stand for its address and key);
- ``<!-- example: given NAME=REPO_PATH -->``: copy a file or folder of the repository into the working directory
  as NAME first.

Shell examples run in a fresh directory with their own INFERCTL_HOME, the environment's ``inferctl`` first on
PATH and ``.venv`` pointing at the environment (so ``.venv/bin/inferctl`` works as in a checkout), offline from
the HuggingFace hub.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHELL = ("bash", "sh", "shell")
PYTHON = ("python", "py")
NOT_RUN = ("text", "json", "jsonl", "mermaid", "toml", "ini", "yaml", "yml")
KNOWN = (*SHELL, "console", *PYTHON, *NOT_RUN)
GENERATED = ("docs/reference/", "docs/troubleshooting.md", "docs/measurements.md")

_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")
_MARK = re.compile(r"^<!--\s*example:\s*(.*?)\s*-->$")
_NODE = re.compile(r"^(tests/[\w/]+\.py)::(\w+)$")


@dataclass
class Example:
    page: str  # relative to the repository
    line: int  # 1-based line of the opening fence
    language: str
    body: str
    marks: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def kind(self) -> str:
        """shell, console, python, config, or other (not run)."""
        if self.language in SHELL:
            return "shell"
        if self.language == "console":
            return "console"
        if self.language in PYTHON:
            return "python"
        if self.language in ("yaml", "yml") and _looks_like_config(self.body):
            return "config"
        return "other"

    def mark(self, name: str) -> str | None:
        for mark in self.marks:
            word, _, rest = mark.partition(" ")
            if word == name:
                return rest.strip()
        return None

    @property
    def runs_here(self) -> bool:
        """Run by the unit tests: not skipped, covered elsewhere or needing a running server."""
        return self.kind != "other" and not any(
            self.mark(m) is not None for m in ("skip", "covered-by", "local-server")
        )

    def givens(self) -> list[tuple[str, str]]:
        out = []
        for mark in self.marks:
            word, _, rest = mark.partition(" ")
            if word == "given":
                name, _, source = rest.strip().partition("=")
                out.append((name, source))
        return out


def pages() -> list[Path]:
    """README.md and every hand-written page of docs/ (the generated pages hold output, not examples)."""
    found = [REPO / "README.md"]
    for path in sorted((REPO / "docs").rglob("*.md")):
        relative = path.relative_to(REPO).as_posix()
        if not relative.startswith(GENERATED):
            found.append(path)
    return found


def examples(paths: list[Path] | None = None) -> list[Example]:
    found: list[Example] = []
    for path in paths or pages():
        found += _parse(path)
    return found


def _parse(path: Path) -> list[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(REPO).as_posix()
    found: list[Example] = []
    index = 0
    while index < len(lines):
        opened = _FENCE.match(lines[index])
        if not opened:
            index += 1
            continue
        fence, language = opened.group(1), opened.group(2)
        start = index
        index += 1
        body = []
        while index < len(lines) and not lines[index].startswith(fence):
            body.append(lines[index])
            index += 1
        index += 1
        marks = []
        above = start - 1
        while above >= 0 and (mark := _MARK.match(lines[above].strip())):
            marks.insert(0, mark.group(1))
            above -= 1
        found.append(Example(page, start + 1, language, "\n".join(body) + "\n", marks))
    return found


def indented_code_blocks(path: Path) -> list[int]:
    """Lines that open an indented (4-space) code block outside a list: such blocks have no language, so they
    cannot say whether they run; use a fenced block instead."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found, in_fence, in_list = [], False, False
    for number, line in enumerate(lines, 1):
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if line and not line.startswith(" "):
            in_list = bool(re.match(r"^([-*+]|\d+\.)\s", line))
        previous = lines[number - 2] if number > 1 else ""
        if line.startswith("    ") and line.strip() and not previous.strip() and not in_list:
            found.append(number)
    return found


def problems(example: Example) -> list[str]:
    """What is wrong with an example's language or marks (empty when it is fine)."""
    out = []
    if example.language not in KNOWN:
        out.append(
            f"{example.id}: fence language {example.language or '(none)'!r}; use one of {', '.join(KNOWN)} so the "
            "test suite knows whether to run it"
        )
    for mark in example.marks:
        word, _, rest = mark.partition(" ")
        if word == "skip" and len(rest.split()) < 3:
            out.append(f"{example.id}: 'skip' needs a reason (what the example needs: an AWS account, a cluster...)")
        elif word == "covered-by":
            nodes = [n for n in rest.split() if "::" in n]
            if not nodes:
                out.append(f"{example.id}: 'covered-by' names no test (tests/e2e/FILE.py::TEST)")
            for node in nodes:
                out += [f"{example.id}: {err}" for err in _node_problems(node)]
        elif word == "given":
            name, _, source = rest.strip().partition("=")
            if not name or not (REPO / source).exists():
                out.append(f"{example.id}: 'given {rest}': NAME=REPO_PATH with an existing repository path")
        elif word not in ("skip", "covered-by", "given", "local-server"):
            out.append(f"{example.id}: unknown mark {word!r} (skip, covered-by, given, local-server)")
    return out


def _node_problems(node: str) -> list[str]:
    found = _NODE.match(node)
    if not found:
        return [f"{node!r} is not FILE.py::TEST"]
    path, name = REPO / found.group(1), found.group(2)
    if not path.is_file():
        return [f"{found.group(1)} does not exist"]
    if not re.search(rf"^def {name}\(", path.read_text(encoding="utf-8"), re.MULTILINE):
        return [f"{found.group(1)} has no test {name}"]
    return []


def _looks_like_config(body: str) -> bool:
    from inferctl.config.models import PlatformConfig

    keys = set(re.findall(r"^([a-z_]+):", body, re.MULTILINE))
    return bool(keys) and keys <= set(PlatformConfig.model_fields)


# --- running --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    returncode: int
    output: str


def workdir(example: Example, root: Path) -> Path:
    """A fresh working directory with the example's given files and ``.venv`` pointing at this environment."""
    cwd = root / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    venv = cwd / ".venv"
    if not venv.exists():
        venv.symlink_to(Path(sys.prefix))
    for name, source in example.givens():
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(origin, cwd / name)
        else:
            shutil.copyfile(origin, cwd / name)
    return cwd


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["INFERCTL_HOME"] = str(home)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("INFERCTL_API_KEY", None)
    env |= {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "HF_HUB_OFFLINE": "1"}
    env.update(extra)
    return env


def run_shell(script: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> Ran:
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Ran(proc.returncode, proc.stdout + proc.stderr)


def run_python(source: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> Ran:
    proc = subprocess.run(
        [sys.executable, "-c", source], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Ran(proc.returncode, proc.stdout + proc.stderr)


def transcript(body: str) -> list[tuple[str, list[str]]]:
    """A console block as (command, expected output lines) pairs."""
    steps: list[tuple[str, list[str]]] = []
    for line in body.rstrip("\n").splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return steps
