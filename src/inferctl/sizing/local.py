"""Sizing for the local target: which vLLM servers run, and does this machine's RAM hold them? No instance, no price.

Every model runs ``replicas`` vLLM servers behind the one model gateway (:func:`local_servers`). vLLM's CPU backend
keeps the weights (at the compute dtype) and a KV cache of ``VLLM_CPU_KVCACHE_SPACE`` (``local.kv_cache_gib``, per
server) in RAM, next to its processes. :func:`host_memory_warning` and :func:`servers_memory_refusal` run before
vLLM starts, so servers that cannot fit fail with a sentence instead of the kernel's OOM killer minutes later.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inferctl.catalog.profile import ModelProfile
from inferctl.config.models import EngineSettings, ModelDeployment, PlatformConfig
from inferctl.errors import ConfigError
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
    """``inferctl plan --target local``; :meth:`to_dict` is its ``--output json`` (keys pinned in tests).
    ``gateway`` is the one endpoint ``up`` starts, ``servers`` the vLLM servers behind it (one per replica),
    ``memory`` whether this machine's RAM holds them all."""

    platform: str
    models: list[LocalModelPlan]
    target: str = "local"
    gateway: dict[str, Any] = field(default_factory=dict)
    servers: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {"platform": self.platform, "target": self.target, "models": [m.to_dict() for m in self.models]}
        return {**out, "gateway": self.gateway, "servers": self.servers, "memory": self.memory}


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


# --- the servers behind the gateway ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalServer:
    """One vLLM server of the local target: replica ``replica`` of ``model``, with its share of the machine."""

    model: ModelDeployment
    replica: int
    kv_cache_gib: int  # VLLM_CPU_KVCACHE_SPACE of this server (an integer: vLLM 0.32 parses it with int())
    gpu_memory_utilization: float

    @property
    def name(self) -> str:
        """``<model>-<replica>``: the server's id in the state, the gateway's manifest and ``status``."""
        return f"{self.model.name}-{self.replica}"


def local_replicas(model: ModelDeployment) -> int:
    """How many servers a model runs on one machine: ``replicas``; a model that follows load (autoscaling, a
    cluster feature) runs its minimum, at least one (nothing scales it, nor wakes it from zero, locally)."""
    if model.autoscaling is not None:
        return max(1, model.autoscaling.min_replicas)
    return model.replicas


def local_servers(config: PlatformConfig, *, on_cpu: bool) -> list[LocalServer]:
    """Every vLLM server ``up`` runs for ``config``, in config order.

    Memory split: on a CPU host each server gets ``local.kv_cache_gib`` of KV cache (``VLLM_CPU_KVCACHE_SPACE``)
    and keeps the model's ``gpu_memory_utilization``, which vLLM's CPU backend ignores once the KV space is given
    (vLLM 0.32 ``v1/worker/cpu_worker.py``: the fraction is only checked when ``kv_cache_memory_bytes`` is None;
    ``config/cache.py``: "kv_cache_memory_bytes (when not-None) ignores gpu_memory_utilization"). On a GPU host all
    servers share the one GPU, so each gets the model's fraction divided by the number of servers.
    """
    counts = [(model, local_replicas(model)) for model in config.models]
    total = sum(count for _, count in counts)
    if total == 0:
        raise ConfigError(
            "no model server to start on the local target: every model has replicas: 0; give one model replicas: 1"
        )
    servers = []
    for model, count in counts:
        share = model.engine.gpu_memory_utilization
        if not on_cpu:
            share = max(0.01, math.floor(share / total * 100) / 100)  # rounded down: the shares must fit together
        kv_gib = int(config.local.kv_cache_gib)
        servers += [LocalServer(model, replica, kv_gib, share) for replica in range(count)]
    return servers


def servers_memory_refusal(needs: Sequence[tuple[LocalServer, dict[str, int]]], available_bytes: int) -> str | None:
    """One line when the servers about to start (each with :func:`local_memory_need`) need more RAM together than
    ``available_bytes``; None when they fit. Servers whose model size is unknown are not in ``needs``."""
    total = sum(need["total"] for _, need in needs)
    if total <= available_bytes:
        return None
    per_model: dict[str, int] = {}
    for server, _ in needs:
        per_model[server.model.name] = per_model.get(server.model.name, 0) + 1
    which = ", ".join(f"{name} x{count}" for name, count in per_model.items())
    return (
        f"the {len(needs)} model servers to start ({which}) need about {memory.gib(total):.1f} GiB of RAM together "
        f"(weights + {needs[0][0].kv_cache_gib} GiB KV cache + {memory.gib(CPU_RUNTIME_BYTES):.0f} GiB runtime each) "
        f"but this machine has {memory.gib(available_bytes):.1f} GiB available; lower models[].replicas or "
        "local.kv_cache_gib, serve fewer models at once, or free memory"
    )
