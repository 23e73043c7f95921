"""Ask sizing where each model runs, for the picture; never fail the picture because sizing cannot answer.

Sizing may be unable to answer for reasons that do not make the picture wrong: no model profile offline
(the hub is unreachable), no instance in the pool's families that fits, or a build without sizing. Then the
model is drawn with its pool's instance families and the reason becomes a note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import InferctlError
from inferctl.sizing.placement import Placement

PlaceModel = Callable[[PlatformConfig, ModelDeployment], Placement]


@dataclass(frozen=True)
class PlacementLookup:
    placements: dict[str, Placement] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _sizing_function() -> PlaceModel | None:
    try:
        from inferctl.sizing import place_model
    except ImportError:  # a trimmed build without sizing: the picture still draws
        return None
    return place_model


def lookup_placements(config: PlatformConfig, place_model: PlaceModel | None = None) -> PlacementLookup:
    """Placements for the models of a cluster target (none for local), plus a note per model that has none."""
    if not config.traits.cluster:
        return PlacementLookup()
    place = place_model or _sizing_function()
    if place is None:
        return PlacementLookup(notes=("sizing is not available; GPU nodes show the pool's instance families",))
    placements: dict[str, Placement] = {}
    notes: list[str] = []
    for model in config.models:
        try:
            placements[model.name] = place(config, model)
        except (InferctlError, OSError) as exc:
            # OSError covers network failures while fetching a model profile.
            notes.append(f"model {model.name}: no placement ({exc}); its GPU nodes show the pool's instance families")
    return PlacementLookup(placements, tuple(notes))
