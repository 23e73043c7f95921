"""up, down, status, endpoint, logs: the lifecycle commands, the same for every target."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inferctl.cli.common import (
    ConfigOpt,
    ModelOpt,
    OutputFormat,
    OutputOpt,
    PortOpt,
    TargetOpt,
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
    from inferctl.config.models import PlatformConfig
    from inferctl.targets.base import Target


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
    platform = target_for(cfg, assume_yes=yes, confirm=ask)
    _confirm(platform, cfg, yes, "up")
    with progress() as reporter:
        endpoints = platform.up(reporter)
    demo_notice(cfg.models)  # once it serves: a refused 'up' stays one error line
    if output is OutputFormat.json:
        emit_json({"endpoints": [e.to_dict() for e in endpoints]})
        return
    for row in by_base_url([e.to_dict() for e in endpoints]):
        console.print(f"[bold green]ready[/bold green] {', '.join(row['models'])} at [bold]{row['base_url']}[/bold]")
        if row.get("note"):
            console.print(f"  {row['note']}")
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
) -> None:
    """Models, health, load and KV-cache usage of the running platform (local: the gateway and each model server)."""
    cfg = load(config, target=target, model=model)
    tgt = target_for(cfg)
    served = follow_running(tgt, model, one=False, ready=False)
    report = tgt.status().to_dict()
    if served is not None:  # --model on the local target: that model's servers only
        report["models"] = [m for m in report["models"] if m["name"] == served.deployment.name]
    if output is OutputFormat.json:
        emit_json(report)
        return
    cost = report.pop("cost_now", None)
    print_report(report)
    if cost:
        rows = [
            {"item": line["item"], "detail": line["detail"], "$/h": f"{line['usd_per_hour']:.3f}"}
            for line in cost["lines"]
        ]
        rows.append({"item": "now", "detail": f"~${cost['usd_per_month_at_this_rate']:,.0f} a month at this rate",
                     "$/h": f"{cost['usd_per_hour']:.3f}"})  # fmt: skip
        console.print(table("what the platform costs now", rows))
        if cost["unpriced_nodes"]:
            console.print(f"[dim]{cost['unpriced_nodes']} node(s) of a type the catalog does not price[/dim]")


def endpoint(
    config: ConfigOpt = None,
    target: TargetOpt = None,
    model: ModelOpt = None,
    show_key: Annotated[bool, typer.Option("--show-key", help="Print the API key itself.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """The OpenAI-compatible base URL (local: one for every model) and the API key with --show-key."""
    cfg = load(config, target=target, model=model)
    tgt = target_for(cfg)
    served = follow_running(tgt, model, one=False)
    endpoints = [served.endpoint] if served is not None else tgt.endpoints()
    rows = [e.to_dict(show_key=show_key) for e in endpoints]
    grouped = by_base_url(rows)
    if output is OutputFormat.json:
        emit_json({"endpoints": rows})
    elif show_key and len({row["api_key"] for row in grouped}) == 1 and not sys.stdout.isatty():
        # Piped (e.g. export OPENAI_API_KEY=$(inferctl endpoint --show-key)): print the bare key.
        sys.stdout.write(f"{grouped[0]['api_key'] or ''}\n")
    else:
        console.print(table(None, grouped))


def by_base_url(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Endpoint rows that share a base URL (every model behind one gateway) as one row listing their models."""
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row["base_url"], row["api_key"], row.get("note"))
        entry = grouped.setdefault(key, {"base_url": row["base_url"], "models": [], "api_key": row["api_key"]})
        entry["models"].append(row["model"])
        if row.get("note"):
            entry["note"] = row["note"]
    return list(grouped.values())


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
