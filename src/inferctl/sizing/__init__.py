"""Sizing: model profile x instance -> placement (instance, GPUs, tensor parallel, max-model-len, KV tokens, $/h).

Pure functions over the config, a :class:`~inferctl.catalog.ModelProfile` and the instance catalog; the only I/O is
loading a profile when none is given and ``live_prices``.
"""

from inferctl.sizing.instance_choice import place_model
from inferctl.sizing.local import available_memory_bytes, host_memory_warning, local_report
from inferctl.sizing.placement import Placement, PodResources
from inferctl.sizing.platform_plan import CostLine, PlatformPlan, fixed_costs, plan_platform, profile_summary

__all__ = [
    "CostLine",
    "Placement",
    "PlatformPlan",
    "PodResources",
    "available_memory_bytes",
    "fixed_costs",
    "host_memory_warning",
    "local_report",
    "place_model",
    "plan_platform",
    "profile_summary",
]
