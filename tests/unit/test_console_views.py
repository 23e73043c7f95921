"""The console's charts and its watch of the platform, without a browser or a server.

The failing cluster is :class:`tests.unit.test_live_views.FlakyCluster`: the fake API server of
tests/support/kube.py (no API server runs here), refusing connections while ``down``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inferctl.config.loader import load_config
from inferctl.console.charts import Series, line_chart, nice_ceiling
from inferctl.console.watch import PlatformWatch
from inferctl.home import Home
from inferctl.targets import target_for
from tests.support.kube import serve
from tests.unit.test_kube_cli import NS, workshop_cluster, write_config
from tests.unit.test_live_views import FlakyCluster


@pytest.mark.parametrize(("value", "ceiling"), [(0.0, 1.0), (0.04, 0.05), (3.0, 5.0), (7.0, 10.0), (812.5, 1000.0)])
def test_axes_end_on_round_numbers(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_a_chart_escapes_its_texts_and_breaks_its_line_at_gaps() -> None:
    svg = line_chart(
        [Series("<b>p50</b>", [(0, 1.0), (1, 2.0), (2, None), (3, 3.0), (4, 2.5)], labels=["<i>", "", "", "c=4"])],
        title='load "<script>alert(1)</script>"',
        unit="ms",
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&lt;b&gt;p50&lt;/b&gt;" in svg
    assert "&lt;i&gt;" in svg and ">c=4</text>" in svg
    assert svg.count("<polyline") == 2  # one line each side of the gap
    assert ">0</text>" in svg and ">4</text>" in svg  # y from 0 to a round step above 3
    assert "no data yet" in line_chart([Series("x", [])], title="empty")


def test_a_failed_read_keeps_the_last_picture_and_says_what_failed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = serve(FlakyCluster(namespaces=["default", "kube-system", NS]), monkeypatch, tmp_path, hf_token=None)
    workshop_cluster(fake)
    cfg, _ = load_config(Path(write_config(tmp_path)))
    now = [1000.0]
    watch = PlatformWatch(target_for(cfg, Home.from_env()), clock=lambda: now[0])
    good = watch.read_once()
    assert [m.name for m in good.loads] == ["llama"] and good.errors == {} and good.nodes is not None
    fake.down = True
    now[0] = 1002.0
    failed = watch.read_once()
    assert failed.loads == good.loads and failed.nodes == good.nodes and failed.read_at == 1000.0
    assert set(failed.errors) == {"status", "nodes"}
    message, at = failed.errors["status"]
    assert at == 1002.0 and "\n" not in message and "Traceback" not in message
    fake.down = False
    now[0] = 1004.0
    again = watch.read_once()
    assert again.errors == {} and again.read_at == 1004.0
    assert [p.at for p in again.history["llama"]] == [1000.0, 1004.0]  # a point per good read
