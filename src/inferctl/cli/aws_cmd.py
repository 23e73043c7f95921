"""``inferctl aws ...``: preflight checks, the cluster's kubeconfig, and the EKS token kubectl asks for.

``inferctl aws token`` is what the kubeconfig's exec credential runs; it imports only botocore so every kubectl
call stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from inferctl.cli.common import (
    ConfigOpt,
    OutputFormat,
    OutputOpt,
    YesOpt,
    ask,
    console,
    emit_json,
    err_console,
    load,
    table,
)
from inferctl.home import Home

if TYPE_CHECKING:
    from inferctl.aws.preflight import PreflightReport
    from inferctl.cli.tables import FittedTable

aws_app = typer.Typer(
    name="aws",
    help="AWS helpers: preflight checks, the cluster's kubeconfig, the EKS token.",
    no_args_is_help=True,
)


@aws_app.command("token", hidden=True)
def token(
    cluster: Annotated[str, typer.Option("--cluster", help="EKS cluster name.")],
    region: Annotated[str, typer.Option("--region", help="The cluster's region.")],
) -> None:
    """Print an ExecCredential with an EKS bearer token (the kubeconfig's exec plugin calls this)."""
    from inferctl.aws.token import exec_credential

    emit_json(exec_credential(cluster, region))


@aws_app.command("preflight")
def preflight(config: ConfigOpt = None, yes: YesOpt = False, output: OutputOpt = OutputFormat.table) -> None:
    """Check credentials, offerings, vCPU quotas, AMI parameters, the spot role, endpoint access and the pulumi CLI."""
    from inferctl.aws.preflight import instance_demand, run_preflight
    from inferctl.targets.aws import AwsTarget

    cfg = load(config, target="aws")
    target = AwsTarget(cfg, Home.from_env(), assume_yes=yes, confirm=ask)
    placements = target.kubernetes(include_karpenter=False).placements()
    report = run_preflight(
        cfg,
        instance_demand(cfg, placements),
        clients=target.clients(),
        home=target.home,
        assume_yes=yes,
        confirm=ask,
    )
    if output == OutputFormat.json:
        emit_json(report.to_dict())
    else:
        console.print(preflight_table(report))
    report.raise_for_failures()


def preflight_table(report: PreflightReport) -> FittedTable:
    """One row per check: its name, ok/warn/fail and what it found (or the fix)."""
    return table("preflight", [{"check": c.name, "status": c.status, "detail": c.detail} for c in report.checks])


@aws_app.command("kubeconfig")
def kubeconfig(config: ConfigOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Where the cluster's kubeconfig is (written by 'inferctl up --target aws'), for kubectl."""
    from inferctl.aws.kubeconfig import context_name
    from inferctl.targets.aws import KUBECONFIG_FILE, AwsTarget

    cfg = load(config, target="aws")
    target = AwsTarget(cfg, Home.from_env())
    outputs = target.require_outputs()
    path = target.state_dir / KUBECONFIG_FILE
    info = {
        "kubeconfig": str(path),
        "context": context_name(cfg.cluster_name, cfg.aws.region),
        "cluster": outputs.get("cluster_name"),
        "endpoint": outputs.get("endpoint"),
    }
    if output == OutputFormat.json:
        emit_json(info)
        return
    console.print(f"export KUBECONFIG={path}")
    err_console.print("[dim]then e.g. 'kubectl get nodepool' lists the Karpenter pools[/dim]")


def print_offline_plan(report: dict[str, Any]) -> None:
    """The table view of :func:`inferctl.aws.offline.offline_plan` (``inferctl plan --target aws --offline``)."""
    parts = report["components"]
    console.print(
        f"[bold]{report['platform']}[/bold] · EKS cluster {report['cluster']} in {report['region']} "
        "[dim](offline: the Pulumi program under mocks; nothing was called)[/dim]"
    )
    nodes = ", ".join(f"{g['desired']}x {'/'.join(g['instance_types'])}" for g in parts["system_nodes"])
    karpenter = parts["karpenter"]
    summary = [
        {"component": "cluster", "what": f"EKS {parts['cluster']['version']}" if parts["cluster"] else "-"},
        {"component": "system nodes", "what": nodes},
        {"component": "add-ons", "what": ", ".join(parts["addons"])},
        {"component": "karpenter", "what": f"{karpenter['chart']} {karpenter['version']}"},
        {
            "component": "interruption queue",
            "what": f"{karpenter['interruption_queue']} + {len(karpenter['rules'])} rules",
        },
        {"component": "node pools", "what": ", ".join(parts["node_pools"])},
        {"component": "load balancer controller", "what": _lb_controller_line(parts["load_balancer_controller"])},
        {"component": "API endpoint", "what": _endpoint_line(report["endpoint_access"])},
        {
            "component": "autoscaling",
            "what": ", ".join(f"{a['chart']} {a['version']}" for a in parts.get("autoscaling", {}).values()),
        },
    ]
    console.print(table("components", summary))
    console.print(
        table(
            f"resources ({report['summary']['resources']})",
            [{"type": r["type"], "name": r["name"]} for r in report["resources"]],
        )
    )
    for note in report["notes"]:
        console.print(f"[dim]note: {note}[/dim]")


def _lb_controller_line(release: dict[str, Any]) -> str:
    from inferctl.config.models import LB_CONTROLLER_APP_VERSIONS

    chart = release["version"]
    return f"controller {LB_CONTROLLER_APP_VERSIONS.get(chart, '?')} (chart {chart})"


def _endpoint_line(access: dict[str, Any]) -> str:
    cidrs = access.get("private_access_cidrs") or []
    private = "the nodes" + (f" and {', '.join(cidrs)}" if cidrs else "")
    if access["mode"] == "private":
        return f"private only ('up' runs inside the VPC) for {private}"
    return f"public for {', '.join(access['public_access_cidrs'])} + private for {private}"


def register(app: typer.Typer) -> None:
    app.add_typer(aws_app, name="aws")
