"""What the pages show that is not read every few seconds: the platform's cost figures and its architecture
picture, each computed once (in a worker thread) the first time a page needs it.

Costs, as ``plan`` and ``status`` give them: what the platform costs now (aws: the running nodes' prices, the
status's ``cost_now``; kubernetes: the nodes' catalog prices; local: nothing), and the plan's hourly total with
every model at its configured replicas and with everything scaled up to its most replicas (on-demand and spot).
The picture is ``inferctl diagram``'s: SVG with icons when graphviz and the diagrams library are installed, else
its mermaid text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inferctl.config.models import PlatformConfig
from inferctl.errors import InferctlError, MissingDependencyError
from inferctl.kube.views import NodesView
from inferctl.targets.status import AwsStatus, StatusReport
from inferctl.views.errors import one_line


@dataclass(frozen=True)
class PlannedCosts:
    """$/h from the plan: at the configured replicas, and with every model at its most replicas."""

    on_demand: float
    spot: float
    scaled_up_on_demand: float
    scaled_up_spot: float
    prices: str
    notes: list[str] = field(default_factory=list)


def planned_costs(config: PlatformConfig) -> PlannedCosts | str | None:
    """The plan's figures for a cluster target; None for the local one (it costs nothing extra); a string says
    why there are none (sizing failed)."""
    if not config.traits.cluster:
        return None
    from inferctl.sizing import plan_platform

    try:
        plan = plan_platform(config)
    except InferctlError as exc:
        return f"no plan: {exc.message}"
    _, peak_on_demand, peak_spot = plan.cost_at(1)
    return PlannedCosts(
        on_demand=plan.total_on_demand_usd_per_hour,
        spot=plan.total_spot_usd_per_hour,
        scaled_up_on_demand=peak_on_demand,
        scaled_up_spot=peak_spot,
        prices=plan.prices,
    )


def cost_now(report: StatusReport | None, nodes: NodesView | None) -> tuple[float | None, str]:
    """$/h of what runs now, and where the number comes from."""
    if report is None:
        return None, "not read yet"
    if report.target == "local":
        return 0.0, "the local target runs on this machine"
    if isinstance(report, AwsStatus) and report.cost_now:
        return float(report.cost_now["usd_per_hour"]), "the running nodes (status)"
    if nodes is not None:
        unpriced = f"; {nodes.totals.unpriced} node(s) not in the catalog" if nodes.totals.unpriced else ""
        return nodes.totals.usd_per_hour, f"the nodes' catalog prices{unpriced}"
    return None, "no node prices read"


@dataclass(frozen=True)
class Diagram:
    """The architecture: ``svg`` (the drawing) or ``mermaid`` (its text, when graphviz cannot draw it here)."""

    kind: str
    text: str
    notes: list[str] = field(default_factory=list)


def architecture(config: PlatformConfig) -> Diagram:
    from inferctl.diagram import PlacementLookup, build_graph, lookup_placements, render_image, render_mermaid

    lookup = lookup_placements(config) if config.traits.cluster else PlacementLookup()
    graph = build_graph(config, lookup.placements, notes=lookup.notes)
    try:
        svg = render_image(graph, "svg").decode("utf-8")
    except MissingDependencyError as exc:
        return Diagram("mermaid", render_mermaid(graph), [*graph.notes, exc.message])
    except InferctlError as exc:
        return Diagram("mermaid", render_mermaid(graph), [*graph.notes, one_line(exc)])
    return Diagram("svg", svg, list(graph.notes))


__all__ = ["Diagram", "PlannedCosts", "architecture", "cost_now", "planned_costs"]
