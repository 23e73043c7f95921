"""``inferctl nodes``: an eks-node-viewer-like view of the cluster's nodes, their requests and what they cost."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from inferctl.cli.common import ConfigOpt, OutputFormat, OutputOpt, TargetOpt, console, emit_json, load
from inferctl.errors import ConfigError

if TYPE_CHECKING:
    from inferctl.kube.views import NodesView

REFRESH_S = 2.0


def _ratio(used: float, total: float, unit: str = "") -> str:
    share = f" {used / total:4.0%}" if total else ""
    return f"{used:g}/{total:g}{unit}{share}"


def _price(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"${value:,.{digits}f}"


def render_nodes(view: NodesView) -> Group:
    """The node table and the fleet total line."""
    nodes_table = Table(title="nodes", title_justify="left", header_style="bold")
    for column in ("node", "group", "instance", "capacity", "zone", "age", "pods", "cpu", "memory", "gpu", "$/h"):
        nodes_table.add_column(column, justify="right" if column in ("pods", "$/h") else "left")
    for node in view.nodes:
        nodes_table.add_row(
            node.name,
            node.group or "-",
            node.instance_type or "-",
            node.capacity_type,
            node.zone or "-",
            node.age,
            str(node.pods),
            _ratio(node.cpu_requested, node.cpu_allocatable),
            _ratio(node.memory_requested_gib, node.memory_allocatable_gib, "Gi"),
            _ratio(node.gpu_requested, node.gpu_allocatable) if node.gpu_allocatable else "-",
            _price(node.usd_per_hour),
        )
    t = view.totals
    line = (
        f"{t.nodes} nodes   cpu {_ratio(t.cpu_requested, t.cpu_allocatable)}   "
        f"memory {_ratio(t.memory_requested_gib, t.memory_allocatable_gib, 'Gi')}   "
        f"gpu {t.gpu_requested}/{t.gpu_allocatable}   "
        f"{_price(t.usd_per_hour)}/h  (~{_price(t.usd_per_month, 2)}/month)"
    )
    if t.unpriced:
        line += f"   {t.unpriced} node(s) not in the price catalog"
    return Group(nodes_table, Text(line, style="bold"))


def register(app: typer.Typer) -> None:
    @app.command(rich_help_panel="Lifecycle")
    def nodes(
        config: ConfigOpt = None,
        target: TargetOpt = None,
        output: OutputOpt = OutputFormat.table,
        watch: Annotated[
            bool, typer.Option("--watch", "-w", help="Refresh every 2 s until Ctrl-C (JSON: one line per refresh).")
        ] = False,
    ) -> None:
        """Cluster nodes: instance, capacity type, zone, requests vs allocatable, $/h, and the fleet total."""
        from inferctl.targets import NodesCapability, target_for, targets_with

        cfg = load(config, target=target)
        platform = target_for(cfg)
        if not isinstance(platform, NodesCapability):
            with_nodes = " or ".join(targets_with(NodesCapability))
            raise ConfigError(f"target {cfg.target} has no nodes to show; use --target {with_nodes}")
        if not watch:
            view = platform.nodes()
            if output is OutputFormat.json:
                emit_json(view.to_dict())
            else:
                console.print(render_nodes(view))
            return
        try:
            if output is OutputFormat.json:
                while True:
                    sys.stdout.write(json.dumps(platform.nodes().to_dict(), default=str) + "\n")
                    sys.stdout.flush()
                    time.sleep(REFRESH_S)
            from rich.live import Live

            with Live(render_nodes(platform.nodes()), console=console, refresh_per_second=4) as live:
                while True:
                    time.sleep(REFRESH_S)
                    live.update(render_nodes(platform.nodes()))
        except KeyboardInterrupt:
            return
