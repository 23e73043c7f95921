"""``inferctl plan``: what each model needs, where it runs and what the platform costs, before anything exists.

Cluster targets (aws, kubernetes): a placement per model (instance, GPUs, tensor parallelism, KV tokens,
concurrency, $/h) with ranked alternatives, the platform's fixed cost and the total. Target local: each model's
profile, the gateway and the vLLM servers behind it (one per replica), and whether this machine's RAM holds them.
An impossible plan exits 2 with the numbers and the nearest fix, and so does a config that ``render`` and ``up``
would refuse (render.check_platform: the same checks, the same words).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from inferctl.cli.common import (
    ConfigOpt,
    ModelOpt,
    OutputFormat,
    OutputOpt,
    TargetOpt,
    console,
    emit_json,
    err_console,
    load,
    table,
)
from inferctl.errors import ConfigError

if TYPE_CHECKING:
    from inferctl.config.models import PlatformConfig
    from inferctl.sizing import PlatformPlan
    from inferctl.sizing.local import LocalPlatformPlan, LocalServer
    from inferctl.sizing.placement import Placement

LivePricesOpt = Annotated[
    bool,
    typer.Option(
        "--live-prices",
        help="Current on-demand and spot prices from AWS for the config's region (needs AWS credentials).",
    ),
]
OfflineOpt = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="aws: list every resource 'up' would create, from the Pulumi program under mocks (no AWS call).",
    ),
]


def register(app: typer.Typer) -> None:
    @app.command("plan", rich_help_panel="Lifecycle")
    def plan(
        config: ConfigOpt = None,
        target: TargetOpt = None,
        model: ModelOpt = None,
        live_prices: LivePricesOpt = False,
        offline: OfflineOpt = False,
        output: OutputOpt = OutputFormat.table,
    ) -> None:
        """Size every model (instance, GPUs, TP, KV cache, concurrency) and price the platform. Creates nothing."""
        cfg = load(config, target=target, model=model)
        if offline:
            if not cfg.traits.owns_infrastructure:
                raise ConfigError("--offline lists the AWS resources of the Pulumi program; add --target aws")
            from inferctl.aws_sdk import require_aws_extra

            require_aws_extra("plan --offline")
            from inferctl.aws.offline import offline_plan
            from inferctl.cli.aws_cmd import print_offline_plan
            from inferctl.render import check_platform
            from inferctl.sizing import plan_platform

            check_platform(cfg, plan_platform(cfg).placements)  # what up would refuse, refused here too
            resources = offline_plan(cfg)
            if output is OutputFormat.json:
                emit_json(resources)
            else:
                print_offline_plan(resources)
            return
        if not cfg.traits.cluster:
            if live_prices:
                err_console.print("[dim]note: --live-prices prices cluster targets; the local target is free[/dim]")
            report = local_plan(cfg)
            if output is OutputFormat.json:
                emit_json(report.to_dict())
            else:
                print_local(report)
            return
        from inferctl.render import check_platform
        from inferctl.render.karpenter import disruption_warnings
        from inferctl.sizing import plan_platform
        from inferctl.sizing.autoscaling import autoscaling_summary

        platform = plan_platform(cfg, live_prices=live_prices)
        check_platform(cfg, platform.placements)  # render and up refuse these configs: so does plan, in their words
        from inferctl.cache.coldstart import cold_start_report

        warnings = disruption_warnings(cfg)
        scaling = autoscaling_summary(cfg, platform)
        cold_start = cold_start_report(cfg, platform.placements)
        if output is OutputFormat.json:
            emit_json(
                {
                    **platform.to_dict(),
                    **({"autoscaling": scaling} if scaling else {}),
                    "cold_start": cold_start,
                    "warnings": warnings,
                }
            )
        else:
            print_platform(platform, cfg)
            if scaling:
                print_autoscaling(scaling, idle_shown=platform.system_nodes is not None)
            print_cold_start(cold_start, scaling)
            for warning in warnings:
                err_console.print(f"[yellow]warning:[/yellow] {warning}")


PATH_LABELS = {"without_cache": "hub", "with_cache": "S3 cache"}
WAKE_FROM = {"wake_timeout": "autoscaling.wake_timeout", "nlb_limit": "the NLB's limit", "unsized": "no estimate"}


def _span(low: float, high: float | None) -> str:
    if high is None:
        return f">= {low:.0f}"
    return f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"


def print_cold_start(report: dict[str, Any], scaling: dict[str, Any] | None = None) -> None:
    """Estimated seconds from a new GPU node to a ready engine, per phase, without and with the S3 cache; a phase
    with no upper bound shows the stand-in the wake timeout takes; then the path the model takes and, for a model
    that scales to zero, the wake timeout built from it."""
    wakes = {m["name"]: m for m in (scaling or {}).get("models", []) if m.get("wake_timeout_s")}
    for name, entry in report.items():
        rows = []
        for key, label in PATH_LABELS.items():
            path = entry[key]
            for phase in path["phases"]:
                seconds, source = _span(phase["low_s"], phase["high_s"]), f"{phase['basis']}: {phase['source']}"
                if "stand_in_s" in phase:
                    seconds += f" (wake: {phase['stand_in_s']:.0f})"
                    source += f"; wake: {phase['stand_in_basis']}, {phase['stand_in_source']}"
                rows.append({"path": label, "phase": phase["phase"], "seconds": seconds, "source": source})
            seconds = _span(path["total_low_s"], path["total_high_s"])
            if path["total_high_s"] is None:
                seconds += f" (wake: {path['wake_basis_s']:.0f})"
            rows.append({"path": label, "phase": "total", "seconds": seconds, "source": ""})
        console.print()
        console.print(
            table(f"{name}: estimated cold start on a new {entry['instance_type']} (docs: concepts/cache.md)", rows)
        )
        line = f"{name}'s pods take the {PATH_LABELS[entry['path']]} path"
        wake = wakes.get(name)
        if wake is not None:
            line += f"; its wake timeout: {wake['wake_timeout_s']} s, " + _wake_basis(wake, entry[entry["path"]])
        console.print(f"[dim]{line}[/dim]")


def _wake_basis(wake: dict[str, Any], path: dict[str, Any]) -> str:
    from inferctl.sizing.autoscaling import WAKE_MARGIN

    if wake["wake_timeout_from"] != "estimate":
        return f"from {WAKE_FROM[wake['wake_timeout_from']]}"
    high = "the high bound" if path["total_high_s"] is not None else "the high bounds and the stand-ins"
    return f"{high} ({path['wake_basis_s']:.0f} s) x {WAKE_MARGIN}, rounded up to a minute"


# --- local ---------------------------------------------------------------------------------------------------------


def local_plan(cfg: PlatformConfig) -> LocalPlatformPlan:
    from inferctl.catalog import load_profile
    from inferctl.sizing import local_report, profile_summary
    from inferctl.sizing.local import (
        CPU_RUNTIME_BYTES,
        LocalModelPlan,
        LocalPlatformPlan,
        available_memory_bytes,
        local_memory_need,
        local_servers,
        servers_memory_refusal,
    )
    from inferctl.sizing.memory import GIB, gib
    from inferctl.targets.local.defaults import cpu_host

    models, profiles = [], {}
    for model in cfg.models:
        profile = profiles[model.name] = load_profile(model.source, revision=model.revision)
        models.append(
            LocalModelPlan(
                name=model.name,
                source=model.source,
                profile=profile_summary(profile, model.engine),
                memory=local_report(profile, model.engine, kv_cache_bytes=int(cfg.local.kv_cache_gib * GIB)),
                notes=list(profile.notes),
            )
        )
    servers = local_servers(cfg, on_cpu=cpu_host())
    needs = [(s, local_memory_need(profiles[s.model.name], s.model.engine, kv_cache_bytes=s.kv_cache_gib * GIB))
             for s in servers]  # fmt: skip
    available = available_memory_bytes()
    refusal = servers_memory_refusal(needs, available) if len(servers) > 1 else None
    return LocalPlatformPlan(
        platform=cfg.name,
        models=models,
        gateway={
            "what": "Shepherd Model Gateway (smg), the platform's one endpoint: one port, one key, every model",
            "host": cfg.local.host,
            "port": cfg.local.port or "(a free port)",
            "policy": "cache_aware",
            "api_key_required": cfg.endpoint.api_key.enabled,
        },
        servers=[
            {
                "server": s.name,
                "model": s.model.name,
                "replica": s.replica,
                "port": "(a free port)",
                "kv_cache_gib": s.kv_cache_gib,
                "gpu_memory_utilization": s.gpu_memory_utilization,
                "ram_needed_gib": round(gib(need["total"]), 2),
            }
            for s, need in needs
        ],
        memory={
            "ram_needed_gib": round(gib(sum(need["total"] for _, need in needs)), 2),
            "ram_available_gib": round(gib(available), 2),
            "runtime_gib_per_server": round(gib(CPU_RUNTIME_BYTES), 2),
            "fits": refusal is None and all(m.memory.fits for m in models),
            "warning": refusal,
        },
    )


def _server_row(server: LocalServer, need: dict[str, int]) -> dict[str, Any]:
    from inferctl.sizing.memory import gib

    return {"server": server.name, "model": server.model.name, "replica": server.replica, "port": "(a free port)",
            "kv_cache_gib": server.kv_cache_gib, "gpu_memory_utilization": server.gpu_memory_utilization,
            "ram_needed_gib": round(gib(need["total"]), 2)}  # fmt: skip


def print_local(report: LocalPlatformPlan) -> None:
    console.print(f"[bold]{report.platform}[/bold] · target local (no instance, no price)")
    rows = []
    for entry in report.models:
        profile, mem = entry.profile, entry.memory
        rows.append(
            {
                "model": entry.name,
                "parameters": human_count(profile["parameters"]),
                "weights GiB": mem.weights_gib,
                "format": profile["weight_format"],
                "KV per token": human_bytes(profile["kv_bytes_per_token"]),
                "context limit": f"{profile['context_limit']:,}",
                "RAM needed GiB": mem.ram_needed_gib,
                "RAM available GiB": mem.ram_available_gib,
                "fits": mem.fits,
            }
        )
    console.print(table("models", rows))
    gateway = report.gateway
    console.print(
        f"[bold]gateway[/bold]: smg on {gateway['host']}:{gateway['port']} ({gateway['policy']} routing, "
        f"{'API key' if gateway['api_key_required'] else 'no key'}), in front of every server below"
    )
    console.print(table("model servers (one vLLM process per replica)", report.servers))
    memory = report.memory
    console.print(
        f"[bold]RAM[/bold]: {memory['ram_needed_gib']} GiB needed by the servers together, "
        f"{memory['ram_available_gib']} GiB available"
    )
    if memory["warning"]:
        err_console.print(f"[yellow]warning:[/yellow] {memory['warning']}")
    for entry in report.models:
        if entry.memory.warning:
            err_console.print(f"[yellow]warning:[/yellow] {entry.memory.warning}")
        for note in entry.notes:
            console.print(f"[dim]note: {note}[/dim]")


# --- cluster targets -----------------------------------------------------------------------------------------------


def print_platform(platform: PlatformPlan, cfg: PlatformConfig) -> None:
    console.print(
        f"[bold]{platform.platform}[/bold] · target {platform.target} · region {platform.region} · "
        f"GPU pool {cfg.pools.gpu.name} ({', '.join(cfg.pools.gpu.instance_families)})"
    )
    for name, placement in platform.placements.items():
        _print_model(name, placement, platform)
    _print_costs(platform)


def _print_model(name: str, placement: Placement, platform: PlatformPlan) -> None:
    """A table of the model's facts and its placement, then its ranked options."""
    profile = platform.profiles[name]
    res = placement.resources
    window = f", sliding window {profile.sliding_window:,}" if profile.sliding_window else ""
    facts = {
        "source": f"{profile.source} ({profile.origin})",
        "architecture": f"{profile.architecture}{window}",
        "parameters": f"{human_count(profile.num_parameters)} ({profile.parameters_source})",
        "weights": f"{placement.weight_gib} GiB {placement.weight_format}",
        "KV per token": f"{human_bytes(placement.kv_bytes_per_token)} ({placement.kv_bytes_per_token:,} B)",
        "instance": f"{placement.instance_type} · {placement.instance_gpu_count} x {placement.gpu_name} "
        f"{placement.gpu_memory_gib:.0f} GiB",
        "GPUs / TP": f"{placement.tensor_parallel_size} / {placement.tensor_parallel_size}",
        "max model len": f"{placement.max_model_len:,} (model limit {profile.max_position_embeddings:,})",
        "KV tokens": f"{placement.kv_cache_tokens:,} ({placement.kv_cache_gib} GiB)",
        "max concurrency": f"{placement.max_concurrency} requests of {placement.max_model_len:,} tokens",
        "$/h on-demand": f"{placement.on_demand_usd_per_hour:.3f} ({placement.price_region})",
        "$/h spot": f"{placement.spot_usd_per_hour:.3f}"
        + (" (estimate)" if placement.spot_is_estimate else f" (live, {placement.price_region})"),
        "engine": f"--tensor-parallel-size {placement.tensor_parallel_size} --max-model-len "
        f"{placement.max_model_len} --gpu-memory-utilization {placement.gpu_memory_utilization:g}",
        "pod": f"nvidia.com/gpu {res.gpus}, cpu {res.cpu}, memory {res.memory}, ephemeral-storage "
        f"{res.ephemeral_storage}, /dev/shm {res.shm}",
        "also fits": ", ".join(placement.compatible_instance_types[1:]) or "-",
    }
    console.print()
    console.print(table(f"model {name}", [{"": key, "value": value} for key, value in facts.items()]))
    if placement.alternatives:
        rows = [_option_row(alt) for alt in (placement, *placement.alternatives)]
        console.print(table(f"{name}: options, cheapest first", rows))


def _option_row(placement: Placement) -> dict[str, Any]:
    return {
        "instance": placement.instance_type,
        "GPUs": f"{placement.instance_gpu_count}x{placement.gpu_name}",
        "TP": placement.tensor_parallel_size,
        "max len": placement.max_model_len,
        "KV tokens": placement.kv_cache_tokens,
        "conc.": placement.max_concurrency,
        "$/h": f"{placement.on_demand_usd_per_hour:.3f}",
        "spot $/h": f"{placement.spot_usd_per_hour:.3f}",
    }


def _print_costs(platform: PlatformPlan) -> None:
    data = platform.to_dict()
    rows = [
        {
            "item": line["item"],
            "detail": line["detail"],
            "$/h on-demand": f"{line['on_demand_usd_per_hour']:.3f}",
            "$/h with spot GPUs": f"{line['spot_usd_per_hour']:.3f}",
        }
        for line in data["cost_lines"]
    ]
    total = data["total"]
    rows.append(
        {
            "item": "total",
            "detail": f"~${total['on_demand_usd_per_month']:,.0f} / ${total['spot_usd_per_month']:,.0f} a month",
            "$/h on-demand": f"{total['on_demand_usd_per_hour']:.3f}",
            "$/h with spot GPUs": f"{total['spot_usd_per_hour']:.3f}",
        }
    )
    console.print()
    console.print(table("cost per hour", rows))
    _print_idle(platform)
    console.print(f"[dim]prices: {platform.prices}[/dim]")
    for note in platform.notes:
        console.print(f"[dim]note: {note}[/dim]")


def _print_idle(platform: PlatformPlan) -> None:
    """aws: the system node group and why, then the idle $/h by part beside the $/h with every model at its most."""
    nodes = platform.system_nodes
    if nodes is None:
        return
    from inferctl.sizing.platform_cost import summary_line
    from inferctl.sizing.system_nodes import HEADROOM

    cpu, memory = nodes.fit.busiest
    how = "auto: " if nodes.auto else ""
    console.print(f"system nodes: {nodes.count} x {nodes.instance.name} ({how}{nodes.reason})")
    console.print(
        f"[dim]  {nodes.arch_note}; busiest node {cpu:.0%} of its CPU, {memory:.0%} of its memory "
        f"({HEADROOM:.0%} kept free){'; also fit: ' + ', '.join(nodes.alternatives) if nodes.alternatives else ''}"
        "[/dim]"
    )
    idle, idle_on_demand, _ = platform.cost_at(0)
    _, peak_on_demand, peak_spot = platform.cost_at(1)
    parts = summary_line([line for line in idle if line.on_demand_usd_per_hour])
    console.print(
        f"idle: ${idle_on_demand:.3f}/h ({parts}) · at max replicas: ${peak_on_demand:.3f}/h "
        f"(${peak_spot:.3f}/h with spot GPUs)"
    )


def human_count(count: int) -> str:
    """8030261248 -> ``8.03B``; 3300000 -> ``3.3M``."""
    for size, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if count >= size:
            return f"{count / size:.3g}{suffix}"
    return str(count)


def human_bytes(count: int) -> str:
    """131072 -> ``128 KiB``; exact when the unit divides the count."""
    for size, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if count >= size:
            value = count / size
            return f"{value:.0f} {unit}" if count % size == 0 else f"{value:.1f} {unit}"
    return f"{count} B"


def print_autoscaling(scaling: dict[str, Any], *, idle_shown: bool = False) -> None:
    """Per model what a replica holds and how long a wake takes, and (unless the cost table already said it) the
    idle and peak $/h of an autoscaled platform."""
    rows = []
    for entry in scaling["models"]:
        rows.append(
            {
                "model": entry["name"],
                "replicas": f"{entry['min_replicas']}-{entry['max_replicas']}",
                "requests/replica": _target(entry),
                "KV guard": f"{entry['kv_cache_target']:.0%}",
                "cold start": _cold_start(entry),
                "504 after": _wake(entry),
            }
        )
    console.print()
    console.print(table("autoscaling", rows))
    idle, peak = scaling["idle_usd_per_hour"], scaling["max_usd_per_hour"]
    if not idle_shown:
        console.print(
            f"idle: ${idle['on_demand']:.3f}/h (${idle['spot']:.3f} with spot GPUs) · at max replicas: "
            f"${peak['on_demand']:.3f}/h (${peak['spot']:.3f} with spot GPUs)"
        )
    console.print(
        "[dim]a replica is added past the requests per replica (running + waiting) or the KV guard (KV-cache usage); "
        "set autoscaling.request_tokens to what your requests hold ('inferctl bench' reports input + output "
        "tokens)[/dim]"
    )
    console.print(f"[dim]an empty GPU node goes {scaling['gpu_pool_consolidate_after']} after its last replica[/dim]")


def _cold_start(entry: dict[str, Any]) -> str:
    """A model at zero: its cold start on the path its pods take (that path's total in the cold-start table)."""
    cold = entry.get("cold_start")
    return f"{_span(cold['low_s'], cold['high_s'])} s, {PATH_LABELS[cold['path']]}" if cold else "-"


def _wake(entry: dict[str, Any]) -> str:
    """The wake timeout: the interceptor's 504 when the model is not ready by then."""
    wake = entry.get("wake_timeout_s")
    if not wake:
        return "-"
    return (
        f"{wake} s"
        if entry["wake_timeout_from"] == "estimate"
        else f"{wake} s ({WAKE_FROM[entry['wake_timeout_from']]})"
    )


def _target(entry: dict[str, Any]) -> str:
    count = entry["target_concurrency_per_replica"]
    if entry["target_basis"] == "request_tokens":
        return f"{count} x {entry['request_tokens']:,} tokens"
    return f"{count} ({'target_concurrency' if entry['target_basis'] == 'target_concurrency' else 'max_num_seqs'})"
