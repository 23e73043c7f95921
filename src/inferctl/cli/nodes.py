"""``inferctl nodes``: the cluster's nodes, what is requested of them against what they offer, and what they cost.

The picture is laid out as eks-node-viewer lays out its own (awslabs/eks-node-viewer, pkg/model/uimodel.go at
a410d6f: the layout only, no code): the fleet first (node count, requested/allocatable per resource with its share
and a bar, the fleet's $/h and $/month), then per node one line per resource (name, resource, bar, share, pods,
instance type, $/h, capacity type, readiness), with group, zone and age after them where the terminal is wide
enough. ``--watch`` redraws it every ``--interval`` seconds (:mod:`inferctl.cli.live`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Group
from rich.text import Text

from inferctl.cli.common import (
    ConfigOpt,
    IntervalOpt,
    OutputFormat,
    OutputOpt,
    TargetOpt,
    WatchOpt,
    console,
    emit_json,
    err_console,
    load,
)
from inferctl.cli.tables import Cell, Col, FittedTable, usage_bar
from inferctl.errors import ConfigError
from inferctl.views.nodes import fleet_notes, price_text, resource_uses

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from inferctl.kube.views import NodesView

WIDE, NARROW = 120, 100  # bars are 20 cells wide from 120 terminal columns on, 12 from 100, else 8


class NodesBoard:
    """The node picture for the width it is drawn at (longer bars on wide terminals)."""

    def __init__(self, view: NodesView) -> None:
        self.view = view

    def fleet(self, bar_width: int) -> FittedTable:
        """Per resource: the fleet's requests against what it offers; on the first line the node count and $/h."""
        t = self.view.totals
        cost = f"{price_text(t.usd_per_hour)}/h · ~{price_text(t.usd_per_month, 2)}/month"
        rows: list[list[Cell]] = []
        for index, use in enumerate(resource_uses(t)):
            nodes, price = (f"{t.nodes} nodes", cost) if index == 0 else ("", "")
            bar = usage_bar(use.share, bar_width)
            rows.append([nodes, f"({use.amount})", f"{use.share:.0%}", use.resource, bar, price])
        columns = [Col("nodes", 0), Col("requested", 0, right=True), Col("%", 0), Col("resource", 0), Col("bar", 1)]
        columns.append(Col("$/h", 0))
        return FittedTable(columns, rows, style="plain")

    def nodes(self, bar_width: int) -> FittedTable:
        """Per node one line per resource; the node's facts on its first line."""
        rows: list[list[Cell]] = []
        for node in self.view.nodes:
            for index, use in enumerate(resource_uses(node)):
                facts: list[Cell] = [""] * 9
                if index == 0:
                    pods = Text(f"({node.pods} pod{'' if node.pods == 1 else 's'})", no_wrap=True)
                    ready = "Ready" if node.ready == "True" else "NotReady"
                    price = price_text(node.usd_per_hour) + "/h"
                    facts = [node.name, pods, node.instance_type or "-", price, node.capacity_type, ready]
                    facts += [node.group or "-", node.zone or "-", node.age]
                bar = usage_bar(use.share, bar_width)
                rows.append([facts[0], use.resource, bar, f"{use.share:.0%}", *facts[1:], use.amount])
        columns = [
            Col("node", 0, whole=True),
            Col("resource", 0),
            Col("bar", 2),
            Col("%", 0),
            Col("pods", 6),
            Col("instance", 1),
            Col("$/h", 1),
            Col("capacity", 3),
            Col("ready", 4),
            Col("group", 7),
            Col("zone", 8),
            Col("age", 9),
            Col("requested", 5, right=True),
        ]
        return FittedTable(columns, rows, style="plain")

    def notes(self) -> list[str]:
        return fleet_notes(self.view)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        bar_width = 20 if options.max_width >= WIDE else 12 if options.max_width >= NARROW else 8
        yield self.fleet(bar_width)
        yield Text(" · ".join(self.notes()), style="dim", overflow="fold")
        if self.view.nodes:
            yield Text("")
            yield self.nodes(bar_width)


def render_nodes(view: NodesView) -> Group:
    """The picture of one read of the nodes (what ``nodes`` prints and ``nodes --watch`` redraws)."""
    return Group(NodesBoard(view))


def register(app: typer.Typer) -> None:
    @app.command(rich_help_panel="Lifecycle")
    def nodes(
        config: ConfigOpt = None,
        target: TargetOpt = None,
        output: OutputOpt = OutputFormat.table,
        watch: WatchOpt = False,
        interval: IntervalOpt = 2.0,
    ) -> None:
        """Cluster nodes: requests vs allocatable per resource, instance, capacity type, $/h, and the fleet's $/h."""
        from inferctl.cli.live import LiveFrame, stream_json
        from inferctl.cli.live import watch as watch_live
        from inferctl.targets import NodesCapability, target_for, targets_with

        cfg = load(config, target=target)
        platform = target_for(cfg)
        if not isinstance(platform, NodesCapability):
            with_nodes = " or ".join(targets_with(NodesCapability))
            raise ConfigError(f"target {cfg.target} has no nodes to show; use --target {with_nodes}")
        if watch and output is OutputFormat.json:
            stream_json(platform.nodes, lambda view: view.to_dict(), interval_s=interval, errors=err_console)
        elif watch:
            frame = LiveFrame(f"nodes of {cfg.name} ({cfg.target})", interval)
            watch_live(platform.nodes, render_nodes, frame=frame, console=console)
        elif output is OutputFormat.json:
            emit_json(platform.nodes().to_dict())
        else:
            console.print(render_nodes(platform.nodes()))
