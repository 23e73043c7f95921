"""What the benchmarked hardware costs per hour, and where that number comes from.

Sources, in order: ``--price`` (USD per hour); the local target (free: it runs on a machine you already pay
for); a cluster target's placement from :func:`inferctl.sizing.place_model` (the catalog's instance price,
spot or on-demand as the GPU pool's first capacity type says, times the model's replicas).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferctl.config.models import CapacityType, ModelDeployment, PlatformConfig
from inferctl.errors import InferctlError
from inferctl.sizing.placement import Placement


@dataclass(frozen=True)
class Price:
    """USD per hour for everything that serves the benchmarked model; None when unknown."""

    usd_per_hour: float | None
    basis: str  # one sentence: where the number comes from

    def to_dict(self) -> dict[str, Any]:
        return {"usd_per_hour": self.usd_per_hour, "basis": self.basis}


def flag_price(usd_per_hour: float) -> Price:
    return Price(usd_per_hour, "--price")


def local_price() -> Price:
    return Price(0.0, "the local target runs on a machine you already have; pass --price USD_PER_HOUR to cost it")


def unknown_price(reason: str) -> Price:
    return Price(None, f"unknown ({reason}); pass --price USD_PER_HOUR")


def placement_price(placement: Placement, capacity_type: CapacityType, replicas: int) -> Price:
    """Pure: the hourly price of ``replicas`` nodes of the placement's instance type."""
    replicas = max(replicas, 1)
    if capacity_type == "spot":
        each = placement.spot_usd_per_hour
        kind = "spot (estimated from on-demand)" if placement.spot_is_estimate else "spot"
    else:
        each = placement.on_demand_usd_per_hour
        kind = "on-demand"
    basis = (
        f"{replicas} x {placement.instance_type} {kind} at ${each:.4f}/h ({placement.price_region}), "
        "the instance inferctl sizes for this model"
    )
    return Price(round(each * replicas, 6), basis)


def target_price(config: PlatformConfig, model: ModelDeployment | None) -> Price:
    """The price of the configured target serving ``model``; never fails (unknown instead)."""
    if not config.traits.cluster:
        return local_price()
    if model is None:
        return unknown_price("the endpoint's model is not in the config")
    from inferctl.sizing import place_model

    try:
        placement = place_model(config, model)
    except InferctlError as exc:
        return unknown_price(f"sizing failed: {exc.message}")
    return placement_price(placement, config.pools.gpu.capacity_types[0], model.replicas)
