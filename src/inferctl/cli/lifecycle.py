"""up, down, status, endpoint, logs: the lifecycle commands, the same for every target."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from inferctl.cli.common import (
    ConfigOpt,
    IntervalOpt,
    ModelOpt,
    OutputFormat,
    OutputOpt,
    PortOpt,
    TargetOpt,
    WatchOpt,
    YesOpt,
    ask,
    console,
    demo_notice,
    emit_json,
    err_console,
    load,
    print_report,
    progress,
    table,
)
from inferctl.cli.running import follow_running
from inferctl.errors import UserError
from inferctl.targets import LogsCapability, target_for, targets_with

if TYPE_CHECKING:
    from inferctl.cli.tables import FittedTable
    from inferctl.config.models import PlatformConfig
    from inferctl.targets.base import Endpoint, Target
    from inferctl.views.load import StatusRead


def _confirm(target: Target, config: PlatformConfig, yes: bool, action: str) -> None:
    """Cluster targets create or remove billable things: show the plan, then ask (``--yes`` skips)."""
    if yes or not config.traits.needs_confirmation:
        return
    if not sys.stdin.isatty():
        raise UserError(f"'{action}' on target {config.target} needs confirmation; re-run with --yes")
    # Plan and question on stderr: stdout carries only the command's result (``--output json`` stays parseable).
    if action == "up":
        print_report(target.plan().to_dict(), out=err_console)
    if not ask(f"{action} platform {config.name!r} on target {config.target}?"):
        err_console.print(f"{action} of platform {config.name!r} not confirmed; nothing was changed")
        raise typer.Exit(1)


def up(
    config: ConfigOpt = None,
    target: TargetOpt = None,
    model: ModelOpt = None,
    port: PortOpt = None,
    yes: YesOpt = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Start the platform and wait until the models answer (local: every model behind one gateway on 127.0.0.1;
    run again after changing the models: it starts what is new and stops what is gone)."""
    cfg = load(config, target=target, model=model, port=port)
    # --model deploys one model; a cluster's gateway and stack still serve every model of the file.
    whole = None if model is None else load(config, target=target, port=port).models
    platform = target_for(cfg, assume_yes=yes, confirm=ask, platform_models=whole)
    _confirm(platform, cfg, yes, "up")
    with progress() as reporter:
        endpoints = platform.up(reporter)
    demo_notice(cfg.models)  # once it serves: a refused 'up' stays one error line
    if output is OutputFormat.json:
        emit_json({"endpoints": [e.to_dict() for e in endpoints]})
        return
    for base_url, group in _by_base_url(endpoints).items():
        names = ", ".join(e.model for e in group)
        console.print(f"[bold green]ready[/bold green] {names} at [bold]{base_url}[/bold]")
        for note in dict.fromkeys(e.note for e in group if e.note):
            console.print(f"  {note}")
    if endpoints and endpoints[0].api_key:
        console.print("  API key: [bold]inferctl endpoint --show-key[/bold]")
    question = "hello" if any(m.is_demo for m in cfg.models) else "What is the capital of France?"
    pick = f" --model {endpoints[0].model}" if len(endpoints) > 1 else ""
    console.print(f'  try: [bold]inferctl chat{pick} "{question}"[/bold]   stop: [bold]inferctl down[/bold]')


def down(
    config: ConfigOpt = None,
    target: TargetOpt = None,
    model: ModelOpt = None,
    yes: YesOpt = False,
    platform: Annotated[
        bool,
        typer.Option("--platform", help="Also remove the platform: NodePools and nodes (and on aws, the cluster)."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="aws, with --platform: destroy even when the Kubernetes teardown is incomplete (may orphan an NLB).",
        ),
    ] = False,
) -> None:
    """Stop the models (and with --platform everything billable). Safe to re-run."""
    cfg = load(config, target=target, model=model)
    if force and not (platform and cfg.traits.owns_infrastructure):
        raise UserError("--force applies only to 'down --target aws --platform'; drop it")
    tgt = target_for(cfg, assume_yes=yes, confirm=ask)
    if force:
        from inferctl.targets.aws import AwsTarget

        assert isinstance(tgt, AwsTarget)
        tgt.force_destroy = True
    _confirm(tgt, cfg, yes, "down")
    with progress() as reporter:
        tgt.down(reporter, platform=platform)


def status(
    config: ConfigOpt = None,
    target: TargetOpt = None,
    model: ModelOpt = None,
    output: OutputOpt = OutputFormat.table,
    watch: WatchOpt = False,
    interval: IntervalOpt = 2.0,
) -> None:
    """Models, health, load and KV-cache usage of the running platform (local: the gateway and each model server,
    from their /metrics; clusters: from Prometheus; --watch: live, with output tok/s)."""
    from inferctl.views.load import OutputRate, read_status

    cfg = load(config, target=target, model=model)
    tgt = target_for(cfg)
    served = follow_running(tgt, model, one=False, ready=False)
    rate = OutputRate()
    if watch:
        from inferctl.cli.live import LiveFrame, stream_json
        from inferctl.cli.live import watch as watch_live
        from inferctl.cli.status_view import render_status

        def read() -> StatusRead:
            return read_status(tgt, rate)

        if output is OutputFormat.json:
            stream_json(read, status_dict, interval_s=interval, errors=err_console)
            return
        frame = LiveFrame(f"status of {cfg.name} ({cfg.target})", interval)
        watch_live(read, render_status, frame=frame, console=console)
        return
    report = status_dict(read_status(tgt, rate))
    if served is not None:  # --model on the local target: that model's servers only
        report["models"] = [m for m in report["models"] if m["name"] == served.deployment.name]
    if output is OutputFormat.json:
        emit_json(report)
        return
    cost = report.pop("cost_now", None)
    figures = report.pop("load", None)
    print_report(report)
    if figures is not None:
        print_load(figures)
    if cost:
        console.print(cost_now_table(cost))
        if cost["unpriced_nodes"]:
            console.print(f"[dim]{cost['unpriced_nodes']} node(s) of a type the catalog does not price[/dim]")


def status_dict(read: StatusRead) -> dict[str, Any]:
    """``status --output json``: the report's own keys, then on a cluster ``load`` (views.load.load_to_dict)."""
    from inferctl.views.load import load_to_dict

    report = read.report.to_dict()
    if read.metrics is not None:
        report["load"] = load_to_dict(read.report, read.metrics)
    return report


def print_load(figures: dict[str, Any]) -> None:
    """A cluster's load per model (``status``'s ``load``), or the one line that says why there is none."""
    if figures["problem"]:
        console.print(Text(f"load (requests, KV cache, tok/s): {figures['problem']}", style="yellow"))
        return
    rows = [
        {"model": row["name"], "running": row["running"], "waiting": row["waiting"],
         "KV cache %": row["kv_cache_pct"], "tok/s out": row["output_tokens_per_s"],
         "TTFT p50 ms": row["ttft_p50_ms"], "TTFT p99 ms": row["ttft_p99_ms"]}
        for row in figures["models"]
    ]  # fmt: skip
    console.print(table(f"load (Prometheus at {figures['source']}, last minute)", rows))


def cost_now_table(cost: dict[str, Any]) -> FittedTable:
    """aws ``status``: what the platform costs this hour, by part, and the total (``AwsStatus.cost_now``)."""
    rows = [
        {"item": line["item"], "detail": line["detail"], "$/h": f"{line['usd_per_hour']:.3f}"} for line in cost["lines"]
    ]
    rows.append({"item": "now", "detail": f"~${cost['usd_per_month_at_this_rate']:,.0f} a month at this rate",
                 "$/h": f"{cost['usd_per_hour']:.3f}"})  # fmt: skip
    return table("what the platform costs now", rows)


def endpoint(
    config: ConfigOpt = None,
    target: TargetOpt = None,
    model: ModelOpt = None,
    show_key: Annotated[bool, typer.Option("--show-key", help="Print the API key itself.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """The OpenAI-compatible base URL of the platform (one for every model) and the API key with --show-key."""
    cfg = load(config, target=target, model=model)
    tgt = target_for(cfg)
    served = follow_running(tgt, model, one=False)  # local: --model narrows to that model
    endpoints = [served.endpoint] if served is not None else tgt.endpoints()
    groups = _by_base_url(endpoints)
    rows = [
        {"base_url": base_url, "models": [e.model for e in group], **_key_and_note(group[0], show_key)}
        for base_url, group in groups.items()
    ]
    if output is OutputFormat.json:
        base = next(iter(groups)) if len(groups) == 1 else None
        emit_json({"base_url": base, "endpoints": [e.to_dict(show_key=show_key) for e in endpoints]})
    elif show_key and len(rows) == 1 and not sys.stdout.isatty():
        # Piped (e.g. export OPENAI_API_KEY=$(inferctl endpoint --show-key)): print the bare key.
        sys.stdout.write(f"{rows[0]['api_key'] or ''}\n")
    else:
        console.print(table(None, [{**row, "models": ", ".join(row["models"])} for row in rows]))


def _by_base_url(endpoints: list[Endpoint]) -> dict[str, list[Endpoint]]:
    """The endpoints grouped by base URL, in order: one group per platform entry (the gateway serves them all)."""
    groups: dict[str, list[Endpoint]] = {}
    for item in endpoints:
        groups.setdefault(item.base_url, []).append(item)
    return groups


def _key_and_note(item: Endpoint, show_key: bool) -> dict[str, Any]:
    shown = item.to_dict(show_key=show_key)
    return {"api_key": shown["api_key"], **({"note": shown["note"]} if "note" in shown else {})}


def logs(
    config: ConfigOpt = None,
    target: TargetOpt = None,
    model: ModelOpt = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    tail: Annotated[int | None, typer.Option("--tail", "-n", help="Only the last N lines.", min=1)] = None,
) -> None:
    """The model server's log (local: of the model --model names, the only one by default; its replicas' lines
    prefixed with the server)."""
    cfg = load(config, target=target, model=model)
    tgt = target_for(cfg)
    if not isinstance(tgt, LogsCapability):
        raise UserError(
            f"target {cfg.target} has no logs; targets with logs: {', '.join(targets_with(LogsCapability))}"
        )
    try:
        for line in tgt.logs(model=model, follow=follow, tail=tail):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        err_console.print("[dim]stopped following[/dim]")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Lifecycle")(up)
    app.command(rich_help_panel="Lifecycle")(down)
    app.command(rich_help_panel="Lifecycle")(status)
    app.command(rich_help_panel="Lifecycle")(endpoint)
    app.command(rich_help_panel="Lifecycle")(logs)
