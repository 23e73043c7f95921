"""init and config: write a starter file, print the JSON Schema, show or check the effective config."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from inferctl.cli.common import (
    ConfigOpt,
    ModelOpt,
    OutputFormat,
    OutputOpt,
    PortOpt,
    TargetOpt,
    console,
    emit_json,
    load,
)
from inferctl.errors import ConflictError, output_file

config_app = typer.Typer(help="Inspect the config: JSON Schema, effective values, validation.", no_args_is_help=True)


def init(
    path: Annotated[Path, typer.Argument(help="Where to write the file.")] = Path("inferctl.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter inferctl.yaml (local target, the demo model)."""
    from inferctl.config.starter import STARTER_YAML

    if path.exists() and not force:
        raise ConflictError(f"{path} already exists; edit it, or pass --force to overwrite it")
    with output_file(path, "path"):
        path.write_text(STARTER_YAML, encoding="utf-8")
    console.print(f"wrote [bold]{path}[/bold]; next: [bold]inferctl up[/bold]")


@config_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of inferctl.yaml (point your editor's YAML plugin at it)."""
    from inferctl.config.loader import json_schema

    sys.stdout.write(json_schema() + "\n")


@config_app.command("show")
def show(
    config: ConfigOpt = None,
    target: TargetOpt = None,
    model: ModelOpt = None,
    port: PortOpt = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Print the effective config: the file (or defaults) with flags applied."""
    cfg = load(config, target=target, model=model, port=port)
    data = cfg.model_dump(mode="json")
    if output is OutputFormat.json:
        emit_json(data)
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))


@config_app.command("validate")
def validate(config: ConfigOpt = None) -> None:
    """Check the config file; exit 2 with the YAML path of the first problem."""
    cfg = load(config)
    console.print(f"[green]valid[/green]: platform {cfg.name!r}, target {cfg.target}, {len(cfg.models)} model(s)")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Config")(init)
    app.add_typer(config_app, name="config", rich_help_panel="Config")
