"""Sizing, the catalog and the AWS target import only distributions inferctl declares in pyproject.toml.

A library that arrives only as another package's dependency (huggingface_hub's HTTP client, for one) can be swapped
or dropped by that package's next release; code that names it breaks on an upgrade nobody chose.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "inferctl"
AREA = [
    *sorted((SRC / "catalog").glob("*.py")),
    *sorted((SRC / "sizing").glob("*.py")),
    *sorted((SRC / "aws").glob("*.py")),
    SRC / "targets" / "aws.py",
    SRC / "cli" / "plan.py",
    SRC / "cli" / "aws_cmd.py",
]
# boto3's public API hands out botocore's sessions, clients and exceptions: using them is using boto3.
PART_OF = {"botocore": "boto3"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


@cache
def owners_of() -> dict[str, list[str]]:
    return packages_distributions()


@cache
def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["aws"]]
    return {_name(requirement) for requirement in requirements}


def imported(path: Path) -> set[str]:
    """Top-level modules ``path`` imports (anywhere: inside functions and TYPE_CHECKING blocks too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {name for name in names if name != "inferctl" and name not in sys.stdlib_module_names}


@pytest.mark.parametrize("path", AREA, ids=lambda path: str(path.relative_to(SRC)))
def test_every_import_is_a_declared_dependency(path: Path) -> None:
    distributions, allowed = owners_of(), declared()
    undeclared = []
    for module in sorted(imported(path)):
        owners = {_name(PART_OF.get(module, dist)) for dist in distributions.get(module, [module])}
        if not owners & allowed:
            undeclared.append(f"{module} ({', '.join(sorted(owners))})")
    assert not undeclared, f"{path.name} imports undeclared distributions: {', '.join(undeclared)}"
