"""``inferctl diagram``: the architecture of the config's target as a PNG/SVG with icons, or mermaid text."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

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
    progress,
)
from inferctl.errors import ConfigError, output_file


class DiagramFormat(StrEnum):
    png = "png"
    svg = "svg"
    mermaid = "mermaid"


_SUFFIX_FORMATS = {".png": DiagramFormat.png, ".svg": DiagramFormat.svg, ".mmd": DiagramFormat.mermaid}
DEFAULT_IMAGE_NAME = "architecture"

OutFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="File to write (.png, .svg or .mmd). Default: architecture.png/.svg; mermaid goes to stdout.",
    ),
]
FormatOpt = Annotated[
    DiagramFormat | None,
    typer.Option("--format", "-f", help="png | svg | mermaid (default: from --out's suffix, else png)."),
]
SizingOpt = Annotated[
    bool,
    typer.Option("--sizing/--no-sizing", help="Ask sizing for instance types (else show the pools' families)."),
]


def resolve_output(out: Path | None, chosen: DiagramFormat | None) -> tuple[DiagramFormat, Path | None]:
    """The format and file: an explicit --format wins but must agree with --out's suffix."""
    suffix_format = _SUFFIX_FORMATS.get(out.suffix.lower()) if out is not None else None
    if out is not None and suffix_format is None:
        raise ConfigError(f"--out {out}: use a name ending in .png, .svg or .mmd")
    if chosen is not None and suffix_format is not None and chosen != suffix_format:
        raise ConfigError(
            f"--out {out} is a {suffix_format.value} file but --format is {chosen.value}; make them agree"
        )
    fmt = chosen or suffix_format or DiagramFormat.png
    if out is None and fmt is not DiagramFormat.mermaid:
        out = Path(f"{DEFAULT_IMAGE_NAME}.{fmt.value}")
    return fmt, out


def register(app: typer.Typer) -> None:
    @app.command("diagram", rich_help_panel="Config")
    def diagram(
        *,
        config: ConfigOpt = None,
        target: TargetOpt = None,
        model: ModelOpt = None,
        out: OutFileOpt = None,
        fmt: FormatOpt = None,
        sizing: SizingOpt = True,
        output: OutputOpt = OutputFormat.table,
    ) -> None:
        """Draw the platform's architecture from the config (AWS icons via graphviz, or mermaid text)."""
        from inferctl.diagram import (
            PlacementLookup,
            build_graph,
            lookup_placements,
            render_mermaid,
            write_image,
        )

        chosen_format, path = resolve_output(out, fmt)
        platform = load(config, target=target, model=model)
        with progress() as reporter:
            lookup = PlacementLookup()
            if sizing and platform.traits.cluster:
                reporter.phase("sizing models", "instance types for the GPU nodes")
                lookup = lookup_placements(platform)
            graph = build_graph(platform, lookup.placements, notes=lookup.notes)
            mermaid = None
            if chosen_format is DiagramFormat.mermaid:
                mermaid = render_mermaid(graph)
                if path is not None:
                    with output_file(path, "--out"):
                        path.write_text(mermaid, encoding="utf-8")
            else:
                assert path is not None  # resolve_output always names a file for images
                reporter.phase("drawing", f"graphviz -> {path}")
                write_image(graph, path, "svg" if chosen_format is DiagramFormat.svg else "png")
        for note in graph.notes:
            err_console.print(f"[yellow]note:[/yellow] {note}", soft_wrap=True)

        if output is OutputFormat.json:
            report = {
                "target": platform.target,
                "format": chosen_format.value,
                "file": str(path) if path is not None else None,
                "graph": graph.to_dict(),
            }
            if mermaid is not None and path is None:
                report["mermaid"] = mermaid
            emit_json(report)
        elif path is None:
            sys.stdout.write(mermaid or "")
            sys.stdout.flush()
        else:
            console.print(f"wrote {path} ({platform.target}: {len(graph.nodes)} parts, {len(graph.edges)} arrows)")
