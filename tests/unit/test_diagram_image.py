"""PNG/SVG through ``diagrams`` and graphviz's ``dot``, and the one-line errors when either is missing.

The picture tests need Debian's graphviz. Without it they skip with the reason, except under CI (env ``CI`` set),
where a missing graphviz is a failure: CI must prove the PNG is produced.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from inferctl.diagram import (
    DIAGRAMS_MISSING,
    GRAPHVIZ_MISSING,
    build_digraph,
    build_graph,
    render_image,
    write_image,
)
from inferctl.errors import MissingDependencyError
from tests.support.diagram import fixed_placement, workshop_config

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def require_graphviz() -> None:
    if shutil.which("dot") is not None:
        return
    if os.environ.get("CI"):
        pytest.fail("graphviz's dot is not installed; CI must install it (apt-get install graphviz)")
    pytest.skip("graphviz's dot is not installed (apt-get install graphviz); the PNG cannot be drawn here")


def test_png_is_produced_for_the_workshop(tmp_path: Path) -> None:
    require_graphviz()
    out = write_image(
        build_graph(workshop_config(), {"llama3": fixed_placement()}), tmp_path / "nested" / "arch.png", "png"
    )
    data = out.read_bytes()
    assert data.startswith(PNG_MAGIC)
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert width > 800 and height > 800, (width, height)  # a real picture, not an empty canvas


def test_svg_stands_alone_with_its_icons_inline() -> None:
    require_graphviz()
    svg = render_image(build_graph(workshop_config()), "svg").decode("utf-8")
    assert svg.lstrip().startswith("<?xml")
    assert "data:image/png;base64," in svg
    assert "site-packages" not in svg and '.png"' not in svg  # no paths into this machine's Python
    assert "internal" in svg and "NLB genai" in svg
    for node_id in ("nlb", "gateway", "pod_llama3", "karpenter"):
        assert f"<title>{node_id}</title>" in svg


def test_missing_graphviz_is_one_line_naming_the_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no dot anywhere
    with pytest.raises(MissingDependencyError) as caught:
        render_image(build_graph(workshop_config()), "png")
    assert caught.value.message == GRAPHVIZ_MISSING
    assert "apt-get install graphviz" in GRAPHVIZ_MISSING and "--format mermaid" in GRAPHVIZ_MISSING
    assert caught.value.exit_code == 2


def test_missing_diagrams_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "diagrams", None)  # makes `import diagrams` raise ImportError
    with pytest.raises(MissingDependencyError) as caught:
        build_digraph(build_graph(workshop_config()))
    assert caught.value.message == DIAGRAMS_MISSING
    assert "pip install 'inferctl[diagram]'" in caught.value.message


def test_building_the_digraph_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    build_digraph(build_graph(workshop_config()))
    assert list(tmp_path.iterdir()) == []
