"""The cache scripts as the pods run them: the files rendered into the ConfigMap, beside each other, with no
inferctl package to import (the vLLM image has none)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from inferctl.config.models import PlatformConfig
from inferctl.render.model_cache import render_mirror_script


def write_scripts(directory: Path) -> Path:
    """The ConfigMap's files in ``directory`` (the pod mounts them at /opt/inferctl)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in render_mirror_script(PlatformConfig())["data"].items():
        (directory / name).write_text(source, encoding="utf-8")
    return directory


def run_script(
    directory: Path, name: str, *args: str, env: dict[str, str], log: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python3 /opt/inferctl/<name> <args>`` with ``import inferctl`` failing, output into ``log``."""
    path = directory / name
    code = (
        "import runpy, sys; sys.modules['inferctl'] = None; "
        f"sys.path.insert(0, {str(directory)!r}); sys.argv = [{str(path)!r}, *sys.argv[1:]]; "
        f"runpy.run_path({str(path)!r}, run_name='__main__')"
    )
    with log.open("w") as out:
        return subprocess.run([sys.executable, "-c", code, *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout, check=False)  # fmt: skip
