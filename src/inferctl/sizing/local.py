"""Sizing for the local target: does this machine's RAM hold the model? No instance, no price.

vLLM's CPU backend keeps the weights (at the compute dtype) and a KV cache of ``VLLM_CPU_KVCACHE_SPACE``
(``local.kv_cache_gib``) in RAM, next to its processes. :func:`host_memory_warning` runs before vLLM starts, so a
model that cannot fit fails with a sentence instead of the kernel's OOM killer minutes later.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inferctl.catalog.profile import ModelProfile
from inferctl.config.models import EngineSettings
from inferctl.sizing import memory
from inferctl.sizing.memory import GIB

# The API server and engine processes with torch and vLLM imported (and their compile caches): ~1 GiB each for up to
# three processes on a CPU host.
CPU_RUNTIME_BYTES = 3 * GIB
DEFAULT_CPU_KV_CACHE_BYTES = GIB


def available_memory_bytes() -> int:
    """Memory available to a new process: Linux ``MemAvailable``, else physical pages (other systems)."""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    return int(pages * os.sysconf("SC_PAGE_SIZE")) if pages > 0 else 0


def local_memory_need(
    profile: ModelProfile, engine: EngineSettings, *, kv_cache_bytes: int = DEFAULT_CPU_KV_CACHE_BYTES
) -> dict[str, int]:
    """Bytes the local server needs: weights, KV cache space and runtime."""
    weights = memory.weight_bytes(profile, engine)
    return {
        "weights": weights,
        "kv_cache": kv_cache_bytes,
        "runtime": CPU_RUNTIME_BYTES,
        "total": weights + kv_cache_bytes + CPU_RUNTIME_BYTES,
    }


def host_memory_warning(
    profile: ModelProfile,
    engine_settings: EngineSettings,
    available_bytes: int,
    *,
    kv_cache_bytes: int = DEFAULT_CPU_KV_CACHE_BYTES,
) -> str | None:
    """One line when weights + KV space + runtime exceed ``available_bytes``; None when the model fits."""
    need = local_memory_need(profile, engine_settings, kv_cache_bytes=kv_cache_bytes)
    if need["total"] <= available_bytes:
        return None
    return (
        f"{profile.source} needs about {memory.gib(need['total']):.1f} GiB of RAM "
        f"({memory.gib(need['weights']):.1f} GiB weights + {memory.gib(kv_cache_bytes):.1f} GiB KV cache + "
        f"{memory.gib(CPU_RUNTIME_BYTES):.0f} GiB runtime) but this machine has "
        f"{memory.gib(available_bytes):.1f} GiB available: vLLM would be killed for lack of memory; free memory, "
        "lower local.kv_cache_gib, or serve a smaller or quantized model (or plan a GPU target: --target aws)"
    )


@dataclass(frozen=True)
class LocalMemory:
    """A model's RAM on this machine (GiB): what vLLM's CPU backend needs, what is available, whether it fits."""

    ram_needed_gib: float
    weights_gib: float
    kv_cache_gib: float
    runtime_gib: float
    ram_available_gib: float
    fits: bool
    warning: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LocalModelPlan:
    """``inferctl plan`` for one model on the local target: ``profile`` is the model's profile summary (the
    same JSON as the cluster plan's), ``memory`` whether it fits."""

    name: str
    source: str
    profile: dict[str, Any]
    memory: LocalMemory
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LocalPlatformPlan:
    """``inferctl plan --target local``; :meth:`to_dict` is its ``--output json`` (keys pinned in tests)."""

    platform: str
    models: list[LocalModelPlan]
    target: str = "local"

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "target": self.target, "models": [m.to_dict() for m in self.models]}


def local_report(
    profile: ModelProfile,
    engine: EngineSettings,
    *,
    kv_cache_bytes: int = DEFAULT_CPU_KV_CACHE_BYTES,
    available_bytes: int | None = None,
) -> LocalMemory:
    """What ``inferctl plan`` shows for a model on the local target."""
    available = available_memory_bytes() if available_bytes is None else available_bytes
    need = local_memory_need(profile, engine, kv_cache_bytes=kv_cache_bytes)
    warning = host_memory_warning(profile, engine, available, kv_cache_bytes=kv_cache_bytes)
    return LocalMemory(
        ram_needed_gib=round(memory.gib(need["total"]), 2),
        weights_gib=round(memory.gib(need["weights"]), 2),
        kv_cache_gib=round(memory.gib(kv_cache_bytes), 2),
        runtime_gib=round(memory.gib(CPU_RUNTIME_BYTES), 2),
        ram_available_gib=round(memory.gib(available), 2),
        fits=warning is None,
        warning=warning,
    )
