"""``status --watch``: a status report (any target) as one frame of per-model load.

The view model (:mod:`inferctl.views.load`: :func:`model_loads`, :class:`OutputRate`) is shared with the web
console; this module draws its rows with rich. The local report carries vLLM's figures; on a cluster they come
from its Prometheus (:func:`~inferctl.views.load.read_status`), and when that read fails the frame says why in one
line below the table, which still shows state and replicas. A figure no one measured is ``-``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text

from inferctl.cli.tables import Cell, Col, FittedTable, usage_bar
from inferctl.views.load import (
    ModelLoad,
    StatusRead,
    footer,
    has_vllm_metrics,
    headline,
    model_loads,
    number_text,
    percent_text,
)

if TYPE_CHECKING:
    from rich.console import RenderableType

KV_BAR_WIDTH = 10
NO_METRICS = "requests, KV cache and tok/s: no metrics were read for this platform (nothing deployed to read yet)"
METRICS_FROM = "requests, KV cache and tok/s"


def load_table(loads: list[ModelLoad], *, measured: bool = True) -> FittedTable:
    """The per-model table (any number of models); on a narrow terminal the KV bar and the address go first.
    ``measured``: the report carries vLLM's metrics (requests, KV cache, the token counter)."""
    columns = [
        Col("model", 0),
        Col("state", 0),
        Col("ready", 1, right=True),
        Col("running", 1, right=True),
        Col("waiting", 1, right=True),
        Col("KV cache", 1, right=True),
        Col("KV bar", 5),
        Col("tok/s out", 1, right=True),
        Col("where", 6),
        Col("note", 3),
    ]
    rows: list[list[Cell]] = []
    for m in loads:
        kv = m.kv_cache_pct
        rows.append(
            [
                m.name,
                m.state,
                "-" if m.desired is None else f"{m.ready}/{m.desired}",
                number_text(m.running),
                number_text(m.waiting),
                percent_text(kv),
                "" if kv is None else usage_bar(kv / 100, KV_BAR_WIDTH, high_is_good=False),
                number_text(m.output_tokens_per_s, 1),
                m.where or "-",
                m.note or "",
            ]
        )
    # Left out rather than a column of dashes: the metrics where the report has none (a cluster's), the KV bar and
    # the notes where no model has one. The local report's tok/s is '-' until the second read.
    metrics = {"running", "waiting", "KV cache", "tok/s out"}
    kept = [
        i
        for i, col in enumerate(columns)
        if (col.header in metrics and measured) or (col.header not in metrics and any(_filled(r[i]) for r in rows))
    ]
    return FittedTable([columns[i] for i in kept], [[row[i] for i in kept] for row in rows])


def _filled(cell: Cell) -> bool:
    return (cell.plain if isinstance(cell, Text) else cell).strip() not in ("", "-")


def render_status(read: StatusRead) -> RenderableType:
    """One frame: the headline, the models' load, and the report's other facts."""
    report, metrics = read.report, read.metrics
    parts: list[RenderableType] = [Text(headline(report), style="bold", overflow="fold")]
    loads = model_loads(report, read.output_tokens_per_s, metrics)
    with_metrics = has_vllm_metrics(report) or (metrics is not None and metrics.problem is None)
    if loads:
        parts.append(load_table(loads, measured=with_metrics))
    parts.extend(Text(line, style="dim", overflow="fold") for line in footer(report))
    if loads and metrics is not None and metrics.problem:
        parts.append(Text(f"{METRICS_FROM}: {metrics.problem}", style="yellow", overflow="fold"))
    elif loads and metrics is not None and metrics.source:
        parts.append(Text(f"{METRICS_FROM} from {metrics.source}", style="dim", overflow="fold"))
    elif loads and not with_metrics:
        parts.append(Text(NO_METRICS, style="dim", overflow="fold"))
    return Group(*parts)


__all__ = ["load_table", "render_status"]
