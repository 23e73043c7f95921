"""``status --watch``: a status report (any target) as one frame of per-model load.

The view model (:mod:`inferctl.views.load`: :func:`model_loads`, :class:`OutputRate`) is shared with the web
console; this module draws its rows with rich. What a report does not carry is shown as ``-`` (the Kubernetes
report has replicas but no vLLM metrics).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text

from inferctl.cli.tables import Cell, Col, FittedTable, usage_bar
from inferctl.views.load import (
    ModelLoad,
    OutputRate,
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
NO_METRICS = "requests, KV cache and tok/s: this target's status does not read vLLM's metrics (the local one does)"


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
    report = read.report
    parts: list[RenderableType] = [Text(headline(report), style="bold", overflow="fold")]
    loads = model_loads(report, read.output_tokens_per_s)
    with_metrics = has_vllm_metrics(report)
    if loads:
        parts.append(load_table(loads, measured=with_metrics))
    parts.extend(Text(line, style="dim", overflow="fold") for line in footer(report))
    if loads and not with_metrics:
        parts.append(Text(NO_METRICS, style="dim", overflow="fold"))
    return Group(*parts)


__all__ = ["ModelLoad", "OutputRate", "StatusRead", "footer", "headline", "load_table", "model_loads", "render_status"]
