"""Sizing: model profile x instance -> placement."""

from inferctl.sizing.placement import Placement, PodResources

__all__ = ["Placement", "PodResources"]
