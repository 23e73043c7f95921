"""Placement: the cheapest instance type x tensor-parallel size of the GPU pool that serves a model.

Every instance type of ``pools.gpu.instance_families`` whose GPUs vLLM's CUDA image can use is tried with every
tensor-parallel size (1/2/4/8) that fits its GPU count and the model's heads (:mod:`inferctl.sizing.fit`). Fits are
ranked by on-demand price, then spot price, then concurrency. When nothing fits, the refusal names the nearest miss
with its numbers and the nearest fix: another family (the cheapest that fits, searched across the catalog),
fp8 weights or KV cache, a shorter ``max_model_len``, a lower ``min_concurrency`` or a larger data volume.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from inferctl.cache.location import uses_cache
from inferctl.catalog.instances import (
    SNAPSHOT_DATE,
    SNAPSHOT_REGION,
    InstanceType,
    all_instances,
    instances_in_families,
)
from inferctl.catalog.prices import PriceBook, fetch_price_book
from inferctl.catalog.profile import ModelProfile
from inferctl.catalog.sources import load_profile
from inferctl.config.models import EngineSettings, GpuPool, ModelDeployment, PlatformConfig
from inferctl.errors import ConfigError, PlanError
from inferctl.sizing import memory
from inferctl.sizing.fit import (
    DISK,
    EVICTION_FRACTION,
    GPU_MEMORY,
    KV_CACHE,
    UNSUPPORTED,
    Demand,
    Fit,
    Miss,
    evaluate,
)
from inferctl.sizing.memory import gib
from inferctl.sizing.placement import Placement

TP_SIZES = (1, 2, 4, 8)
MAX_ALTERNATIVES = 5


def place_model(
    config: PlatformConfig,
    model: ModelDeployment,
    *,
    profile: ModelProfile | None = None,
    live_prices: bool = False,
    prices: PriceBook | None = None,
) -> Placement:
    """Where and how ``model`` runs in ``config``'s GPU pool. Raises PlanError (with the numbers) when nowhere.

    ``prices`` (tests, or one book shared by a whole plan) wins over ``live_prices``.
    """
    profile = profile or load_profile(model.source, revision=model.revision)
    pool = config.pools.gpu
    demand = _demand(config, profile, model)
    instances, notes = pool_instances(pool.instance_families)
    if prices is None:
        region = config.pricing_region or SNAPSHOT_REGION
        names = [inst.name for inst in instances]
        prices = fetch_price_book(names, region) if live_prices else PriceBook.snapshot(region)
    fits, misses = evaluate_all(demand, instances, prices, tp_choices(profile, model))
    if not fits:
        raise PlanError(_refusal(model, demand, pool, misses))
    # One entry per shape (family, GPUs per instance), its best TP first: larger sizes of the same shape only add
    # host resources, and the cheapest of them is already listed.
    best_per_shape: dict[tuple[str, int], Fit] = {}
    for fit in sorted(fits, key=lambda f: f.rank):
        best_per_shape.setdefault((fit.instance.family, fit.instance.gpu_count), fit)
    ranked = list(best_per_shape.values())
    chosen = ranked[0]
    compatible = _compatible(demand, chosen, instances, prices)
    alternatives = tuple(_placement(model, demand, fit, ()) for fit in ranked[1 : 1 + MAX_ALTERNATIVES])
    return _placement(model, demand, chosen, alternatives, compatible=compatible, notes=tuple(notes))


def _demand(config: PlatformConfig, profile: ModelProfile, model: ModelDeployment) -> Demand:
    engine, pool = model.engine, config.pools.gpu
    where = f"models[{model.name}]"
    if engine.max_model_len and engine.max_model_len > profile.max_position_embeddings:
        raise ConfigError(
            f"{where}.engine.max_model_len {engine.max_model_len:,} exceeds {profile.source}'s limit of "
            f"{profile.max_position_embeddings:,} tokens; lower it to {profile.max_position_embeddings} or unset it"
        )
    if engine.max_num_seqs and engine.max_num_seqs < model.sizing.min_concurrency:
        raise ConfigError(
            f"{where}.sizing.min_concurrency {model.sizing.min_concurrency} exceeds engine.max_num_seqs "
            f"{engine.max_num_seqs}; raise max_num_seqs or lower min_concurrency"
        )
    # awq/gptq/compressed-tensors load checkpoints quantized offline; fp8 and bitsandbytes quantize while loading.
    if engine.quantization in ("awq", "gptq", "compressed-tensors") and profile.quantization != engine.quantization:
        raise ConfigError(
            f"{where}.engine.quantization {engine.quantization} needs a checkpoint quantized with it, and "
            f"{profile.source} is {profile.quantization or 'not quantized'}; serve such a checkpoint, or use fp8"
        )
    configured = config.cache.streamer_memory_limit_gib
    try:
        return Demand.of(
            profile,
            engine,
            model.sizing.min_concurrency,
            pool.data_volume_gib,
            streams=uses_cache(config, model),
            streamer_total_bytes=None if configured is None else int(configured * memory.GIB),
        )
    except ValueError as exc:
        raise PlanError(f"{where}: {exc}; inferctl cannot size it: set engine.quantization to fp8 or awq") from None


def pool_instances(families: Sequence[str]) -> tuple[list[InstanceType], list[str]]:
    """The pool's instance types that vLLM's CUDA image can use, and notes on families the catalog lacks."""
    found = instances_in_families(list(families))
    usable = [inst for inst in found if inst.serves_vllm_cuda]
    known = {inst.family for inst in found}
    unknown = [family for family in families if family not in known]
    if not usable:
        detail = f" ({', '.join(unknown)} not in the catalog)" if unknown else ""
        raise PlanError(
            f"pools.gpu.instance_families [{', '.join(families)}] has no NVIDIA x86_64 GPU instance types in the "
            f"{SNAPSHOT_DATE} catalog{detail}; use GPU families such as g5, g6, g6e, p4d or p5"
        )
    notes = [f"pools.gpu.instance_families: {family} is not in the {SNAPSHOT_DATE} catalog" for family in unknown]
    return usable, notes


def tp_choices(profile: ModelProfile, model: ModelDeployment) -> tuple[int, ...]:
    valid = tuple(tp for tp in TP_SIZES if memory.valid_tensor_parallel(profile, tp))
    wanted = model.engine.tensor_parallel_size
    if wanted is None:
        return valid
    if wanted not in valid:
        raise ConfigError(
            f"models[{model.name}].engine.tensor_parallel_size {wanted} does not divide {profile.source}'s "
            f"{profile.num_attention_heads} attention / {profile.num_kv_heads} KV heads; "
            f"use one of {', '.join(map(str, valid))} or unset it"
        )
    return (wanted,)


def evaluate_all(
    demand: Demand, instances: Sequence[InstanceType], prices: PriceBook, tps: Sequence[int]
) -> tuple[list[Fit], list[Miss]]:
    fits: list[Fit] = []
    misses: list[Miss] = []
    for inst in instances:
        price = prices.price(inst)
        if price is None:
            continue  # the catalog has no price for it (e.g. capacity-block-only types)
        for tp in tps:
            if tp > inst.gpu_count:
                continue
            result = evaluate(demand, inst, tp, price)
            if isinstance(result, Fit):
                fits.append(result)
            else:
                misses.append(result)
    return fits, misses


def _compatible(demand: Demand, chosen: Fit, instances: Sequence[InstanceType], prices: PriceBook) -> tuple[str, ...]:
    """Instance types with exactly ``tp`` GPUs that serve the chosen settings too: Karpenter may launch any of
    them (spot capacity differs by type), so the renderer can pin the pod to this list."""
    found: list[Fit] = [chosen]
    for inst in instances:
        price = prices.price(inst)
        if inst.name == chosen.instance.name or inst.gpu_count != chosen.tp or price is None:
            continue
        result = evaluate(demand, inst, chosen.tp, price, max_model_len=chosen.max_model_len)
        if isinstance(result, Fit):
            found.append(result)
    return tuple(fit.instance.name for fit in sorted(found, key=lambda f: f.rank))


def _placement(
    model: ModelDeployment,
    demand: Demand,
    fit: Fit,
    alternatives: tuple[Placement, ...],
    *,
    compatible: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
) -> Placement:
    inst, engine = fit.instance, demand.engine
    return Placement(
        model=model.name,
        instance_type=inst.name,
        gpu_name=inst.gpu_label,
        gpu_memory_gib=round(inst.gpu_memory_gib, 2),
        tensor_parallel_size=fit.tp,
        max_model_len=fit.max_model_len,
        gpu_memory_utilization=engine.gpu_memory_utilization,
        kv_cache_tokens=fit.kv_tokens,
        max_concurrency=round(fit.concurrency, 2),
        weight_gib=round(gib(demand.weight_bytes), 2),
        checkpoint_gib=round(gib(memory.checkpoint_bytes(demand.profile)), 2),
        kv_bytes_per_token=memory.kv_bytes_per_token(demand.profile, engine),
        resources=fit.resources,
        on_demand_usd_per_hour=fit.price.on_demand_usd_per_hour,
        spot_usd_per_hour=fit.price.spot_usd_per_hour,
        spot_is_estimate=fit.price.spot_is_estimate,
        price_region=fit.price.region,
        alternatives=alternatives,
        instance_gpu_count=inst.gpu_count,
        compatible_instance_types=compatible,
        kv_cache_gib=round(gib(fit.kv_bytes_per_gpu * fit.tp), 2),
        runtime_overhead_gib_per_gpu=round(gib(fit.overhead.total), 2),
        weight_format=demand.weight_label,
        streamer_worker_bytes=demand.streamer_worker_bytes(fit.tp),
        notes=notes,
    )


# --- refusals ------------------------------------------------------------------------------------------------------


def _refusal(model: ModelDeployment, demand: Demand, pool: GpuPool, misses: list[Miss]) -> str:
    if not misses:
        return f"{model.name}: no instance type of pools.gpu.instance_families has a price in the catalog"
    nearest = max(misses, key=lambda miss: miss.nearness)
    inst, name = nearest.instance, model.name
    if nearest.stage == GPU_MEMORY and nearest.need_bytes_per_gpu == UNSUPPORTED:
        head = f"{name}: {nearest.reason} (every allowed instance, e.g. {inst.name})"
    elif nearest.stage == GPU_MEMORY:
        overhead = memory.runtime_overhead(demand.profile, demand.engine, nearest.tp).total
        fmt = memory.weight_format(demand.profile, demand.engine).label
        usable_total = gib(nearest.usable_bytes_per_gpu * nearest.tp)
        head = (
            f"{name} needs {gib(demand.weight_bytes):.1f} GiB of GPU memory for its {fmt} weights plus "
            f"~{gib(overhead):.1f} GiB per GPU of runtime at TP<={max(tp_choices(demand.profile, model))}; "
            "the largest allowed instance, "
            f"{inst.name}, has {inst.gpu_count} x {inst.gpu_memory_gib:.1f} GiB {inst.gpu_label} "
            f"({usable_total:.0f} GiB usable at TP {nearest.tp}, gpu_memory_utilization "
            f"{demand.engine.gpu_memory_utilization:g})"
        )
    elif nearest.stage == KV_CACHE:
        wanted = demand.engine.max_model_len
        asked = f"max_model_len {wanted:,}" if wanted else "a context of at least 2,048 tokens"
        head = (
            f"{name} does not get enough KV cache: the best allowed instance, {inst.name} (TP {nearest.tp}), "
            f"holds {demand.min_concurrency} x {nearest.longest_context:,} tokens but {asked} x "
            f"min_concurrency {demand.min_concurrency} is asked"
        )
    else:
        head = f"{name} on {inst.name} (TP {nearest.tp}): {nearest.reason}"
    fixes = _fixes(model, demand, pool, nearest)
    fix = " or ".join(fixes) if fixes else "no EC2 GPU instance in the catalog serves it at these settings"
    return f"{head}; {fix}"


def _fixes(model: ModelDeployment, demand: Demand, pool: GpuPool, nearest: Miss) -> list[str]:
    fixes: list[str] = []
    engine = demand.engine
    if nearest.stage == DISK:
        return [f"raise pools.gpu.data_volume_gib to {data_volume_for(nearest.need_disk_gib)}"]
    if nearest.stage == KV_CACHE:
        if engine.max_model_len and nearest.longest_context >= 256:
            fixes.append(f"lower engine.max_model_len to {nearest.longest_context}")
        if demand.min_concurrency > 1 and math.floor(nearest.concurrency) >= 1:
            fixes.append(f"lower sizing.min_concurrency to {math.floor(nearest.concurrency)}")
        if engine.kv_cache_dtype == "auto" and _fits_in_pool(model, demand, pool, kv_cache_dtype="fp8"):
            fixes.append("set engine.kv_cache_dtype: fp8")
    other = _cheapest_elsewhere(model, demand, pool)
    if other is not None:
        there, volume = other
        fixes.append(
            f"add {there.instance.family} to pools.gpu.instance_families ({there.instance.name}, TP {there.tp}, "
            f"${there.price.on_demand_usd_per_hour:.2f}/h)"
            + (f" and raise pools.gpu.data_volume_gib to {volume}" if volume else "")
        )
    if nearest.stage == GPU_MEMORY and not engine.quantization and demand.profile.quantization is None:
        fit = _fits_in_pool(model, demand, pool, quantization="fp8")
        if fit is not None:
            fixes.append(f"set engine.quantization: fp8 ({fit.instance.name}, TP {fit.tp})")
    return fixes


def _fits_in_pool(model: ModelDeployment, demand: Demand, pool: GpuPool, **engine_update: str) -> Fit | None:
    engine = EngineSettings.model_validate({**demand.engine.model_dump(), **engine_update})
    changed = Demand.of(
        demand.profile,
        engine,
        demand.min_concurrency,
        demand.data_volume_gib,
        streams=demand.streams,
        streamer_total_bytes=demand.streamer_total_bytes,
    )
    instances, _ = pool_instances(pool.instance_families)
    fits, _ = evaluate_all(changed, instances, PriceBook.snapshot(), tp_choices(demand.profile, model))
    return min(fits, key=lambda f: f.rank) if fits else None


def _cheapest_elsewhere(model: ModelDeployment, demand: Demand, pool: GpuPool) -> tuple[Fit, int | None] | None:
    """The cheapest fit among the catalog's CUDA GPU types outside the pool's families (snapshot prices), and the
    data volume it needs when the pool's is too small for the checkpoint (None when it is large enough)."""
    others = [i for i in all_instances() if i.serves_vllm_cuda and i.family not in pool.instance_families]
    volume = data_volume_for(memory.ceil_gib(memory.node_disk_bytes(demand.profile)))
    roomy = replace(demand, data_volume_gib=max(volume, demand.data_volume_gib))
    fits, _ = evaluate_all(roomy, others, PriceBook.snapshot(), tp_choices(demand.profile, model))
    if not fits:
        return None
    return min(fits, key=lambda f: f.rank), volume if volume > demand.data_volume_gib else None


def data_volume_for(need_disk_gib: int) -> int:
    """The smallest data volume (a multiple of 10 GiB) whose allocatable share holds ``need_disk_gib``."""
    return math.ceil((need_disk_gib + 1) / (1 - EVICTION_FRACTION) / 10) * 10
