"""A node view (:class:`inferctl.kube.views.NodesView`) as eks-node-viewer pictures it: per node and for the
fleet, what is requested of each resource against what it offers, its share, and that share's colour. The
terminal (``nodes --watch``) draws it with rich, the console as HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from inferctl.kube.views import FleetTotals, NodeRow, NodesView

Colour = Literal["green", "yellow", "red"]


@dataclass(frozen=True)
class ResourceUse:
    """One resource of a node (or of the fleet): requested against allocatable."""

    resource: str  # cpu, mem, gpu
    requested: float
    allocatable: float
    unit: str = ""

    @property
    def share(self) -> float:
        return self.requested / self.allocatable if self.allocatable else 0.0

    @property
    def amount(self) -> str:
        return f"{self.requested:g}/{self.allocatable:g}{self.unit}"


def resource_uses(of: NodeRow | FleetTotals) -> list[ResourceUse]:
    """cpu, memory and (when there are any) GPUs of a node or of the fleet."""
    out = [
        ResourceUse("cpu", of.cpu_requested, of.cpu_allocatable),
        ResourceUse("mem", of.memory_requested_gib, of.memory_allocatable_gib, "Gi"),
    ]
    if of.gpu_allocatable:
        out.append(ResourceUse("gpu", float(of.gpu_requested), float(of.gpu_allocatable)))
    return out


def usage_colour(share: float, *, high_is_good: bool = True) -> Colour:
    """eks-node-viewer's colours for a share of requests: above 90% green, above 60% yellow, else red;
    ``high_is_good=False`` (a KV cache filling up) turns that around."""
    share = min(max(share, 0.0), 1.0)
    if high_is_good:
        return "green" if share > 0.9 else "yellow" if share > 0.6 else "red"
    return "red" if share > 0.9 else "yellow" if share > 0.6 else "green"


def price_text(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"${value:,.{digits}f}"


def fleet_notes(view: NodesView) -> list[str]:
    """The pods on the nodes and the nodes the price catalog does not know."""
    lines = [f"{sum(n.pods for n in view.nodes)} pods"]
    if view.totals.unpriced:
        lines.append(f"{view.totals.unpriced} node(s) not in the price catalog: $/h counts the others")
    return lines


__all__ = ["Colour", "ResourceUse", "fleet_notes", "price_text", "resource_uses", "usage_colour"]
