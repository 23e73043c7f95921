"""Data flows one way: config -> sizing -> render -> targets, with kube/ and aws/ as I/O beside targets.

Every import under src/inferctl is read with ``ast`` (module level, inside functions and under TYPE_CHECKING alike:
a lazy import is still a dependency), so a pure package cannot start reaching into the cluster, AWS or the CLI,
and render cannot start reaching back into sizing's callers. A new top-level package must be given its place here.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "inferctl"

# The pure packages and their layer: each may import its own layer and those below, nothing above.
PURE = {"config": 0, "catalog": 0, "sizing": 1, "cache": 1, "render": 2}
# Above the pure layers: I/O (a cluster, AWS), the targets, the load generator, the picture, the live views' data,
# the web console and the CLI.
UPPER = {"kube", "aws", "targets", "bench", "diagram", "views", "console", "cli"}
# The ground floor (errors.py, home.py, engine.py, ...) is shared by all; it must not reach up either.
ENTRY_POINT = "__main__"


def imported(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, first name under ``inferctl``) of every inferctl import in one module."""
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    package = ["inferctl", *path.relative_to(SRC).parent.parts]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names = [f"{module}.{alias.name}" for alias in node.names] if module == "inferctl" else [module]
        else:
            continue
        found += [(node.lineno, name.split(".")[1]) for name in names if name.startswith("inferctl.")]
    return found


def unit(path: Path) -> str:
    """The top-level package (or ground-floor module name) ``path`` belongs to."""
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else path.stem


def allowed(source: str, target: str) -> bool:
    if source in (target, ENTRY_POINT) or source in UPPER:
        return True
    if target in UPPER:
        return False
    if source in PURE and target in PURE:
        return PURE[target] <= PURE[source]
    return True  # the ground floor, and a pure package using it


def violations() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        source = unit(path)
        for line, target in imported(path):
            if not allowed(source, target):
                found.append(f"{path.relative_to(SRC)}:{line} ({source}) imports inferctl.{target}")
    return found


def test_every_package_has_a_place_in_the_layers() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages == set(PURE) | UPPER


def test_no_import_runs_up_the_layers() -> None:
    assert violations() == []


def test_the_check_sees_lazy_and_relative_imports_and_refuses_them() -> None:
    """The rule itself, on the kinds of import that slip past a glance: the ones cache/ had before the split."""
    path = SRC / "cache" / "example.py"
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from inferctl.sizing.placement import Placement\n"
        "def run():\n"
        "    from inferctl.kube.apply import apply_objects\n"
        "    from ..render import order\n"
        "    import inferctl.targets.kubernetes\n"
        "from inferctl import cli\n"
    )
    found = sorted(imported(path, source))
    assert found == [(3, "sizing"), (5, "kube"), (6, "render"), (7, "targets"), (8, "cli")]
    assert [target for _, target in found if not allowed("cache", target)] == ["kube", "render", "targets", "cli"]
    assert allowed("render", "cache") and allowed("render", "sizing") and not allowed("render", "kube")
    assert not allowed("config", "sizing") and not allowed("errors", "targets")
