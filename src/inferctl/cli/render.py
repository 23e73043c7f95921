"""``inferctl render``: the platform's Kubernetes objects as YAML, for GitOps or review.

Secrets are rendered as shapes only (no values): create their data with kubectl or your secret manager.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from inferctl.cli.common import ConfigOpt, ModelOpt, TargetOpt, err_console, load
from inferctl.errors import ConfigError, UserError


def register(app: typer.Typer) -> None:
    @app.command("render")
    def render(
        config: ConfigOpt = None,
        target: TargetOpt = None,
        model: ModelOpt = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Write one file per object plus kustomization.yaml into this folder."),
        ] = None,
    ) -> None:
        """Print the Kubernetes objects of the platform (YAML), or write them to a folder with --out."""
        from inferctl.render import render_platform, write_directory, yaml_stream
        from inferctl.sizing import plan_platform

        cfg = load(config, target=target, model=model)
        if not cfg.traits.cluster:
            raise ConfigError(
                "render writes Kubernetes objects, and the target is 'local'; pass --target kubernetes or "
                "--target aws (or set target: in the config)"
            )
        plan = plan_platform(cfg)
        objects = render_platform(cfg, plan.placements)
        if out is None:
            sys.stdout.write(yaml_stream(objects))
            return
        try:
            written = write_directory(objects, out)
        except OSError as exc:
            # mkdir fails first (a file in the way, no permission, read-only file system): nothing was written.
            raise UserError(
                f"cannot write to --out {out}: {exc.strerror or exc}; choose a folder you can create and write to"
            ) from None
        err_console.print(f"wrote {len(written)} files to {out} (apply with: kubectl apply -k {out})")
