"""What every command shares: options, config loading with overrides, output (table or JSON), progress.

Progress and tables live in the CLI only; targets report through :class:`RichReporter`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from inferctl.cli.tables import FittedTable, dict_table

if TYPE_CHECKING:
    from inferctl.config.models import ModelDeployment, PlatformConfig

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: ./inferctl.yaml if present, else built-in defaults)."),
]
TargetOpt = Annotated[str | None, typer.Option("--target", "-t", help="local | kubernetes | aws (overrides the file).")]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="A configured model name, or a source (HF id, local path, 'demo') to use alone."
    ),
]
PortOpt = Annotated[int | None, typer.Option("--port", help="Local port to serve on (local target).", min=1, max=65535)]
OutputOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="table or json.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
WatchOpt = Annotated[
    bool, typer.Option("--watch", "-w", help="Redraw every --interval seconds until Ctrl-C (JSON: one line each).")
]
IntervalOpt = Annotated[float, typer.Option("--interval", min=0.5, help="Seconds between refreshes with --watch.")]


def load(
    config: Path | None,
    *,
    target: str | None = None,
    model: str | None = None,
    port: int | None = None,
) -> PlatformConfig:
    """The file (or defaults) with command-line overrides applied."""
    # Imported here: pydantic model building is the largest part of `inferctl --help` otherwise.
    from inferctl.config.loader import apply_overrides, load_config

    loaded, _ = load_config(config)
    if target is None and model is None and port is None:
        return loaded
    return apply_overrides(loaded, target=target, model=model, port=port)


def ask(question: str) -> bool:
    """A yes/no question on stderr; without a terminal (CI, pipes) the answer is no, and the caller says to pass
    --yes."""
    return sys.stdin.isatty() and typer.confirm(question, default=False, err=True)


def emit_json(data: Any) -> None:
    """JSON on stdout: the only thing printed with ``--output json``."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def table(
    title: str | None,
    rows: list[dict[str, Any]],
    columns: list[str] | None = None,
    *,
    priorities: dict[str, int] | None = None,
) -> FittedTable:
    """A table of dict rows (the first row's keys, or ``columns``) that fits the terminal without cutting a number;
    ``priorities`` say which columns go first on a narrow one (see :mod:`inferctl.cli.tables`)."""
    return dict_table(title, rows, columns, priorities=priorities, format_cell=_cell)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):  # a nested record in a table cell (e.g. a model's autoscaling state)
        return ", ".join(f"{k.replace('_', ' ')}: {_cell(v)}" for k, v in value.items())
    return str(value)


def print_report(report: dict[str, Any], *, out: Console = console) -> None:
    """Render a status-like report: scalar keys as a list, list-of-dict keys as tables."""
    scalars = {k: v for k, v in report.items() if not isinstance(v, list | dict)}
    for key, value in scalars.items():
        out.print(f"[bold]{key.replace('_', ' ')}[/bold]: {_cell(value)}")
    for key, value in report.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            if _fits_as_table(value, out.width):
                out.print(table(key.replace("_", " "), value))
            else:
                _print_records(key, value, out)
        elif isinstance(value, dict) and value:
            out.print(f"[bold]{key.replace('_', ' ')}[/bold]:")
            for sub, subval in value.items():
                out.print(f"  {sub.replace('_', ' ')}: {_cell(subval)}")


def _fits_as_table(rows: list[dict[str, Any]], width: int) -> bool:
    """A table only when its columns can stay readable on this terminal; wide single rows read better as lists."""
    return table(None, rows).fits(width)


def _print_records(title: str, rows: list[dict[str, Any]], out: Console) -> None:
    """Each row as an indented ``key: value`` block, for tables too wide for the terminal."""
    out.print(f"[bold]{title.replace('_', ' ')}[/bold]:")
    for row in rows:
        items = list(row.items())
        _, first_value = items[0]
        out.print(f"  [bold]{_cell(first_value)}[/bold]")
        for sub, subval in items[1:]:
            out.print(f"    {sub.replace('_', ' ')}: {_cell(subval)}")


class RichReporter:
    """Live progress on stderr: a spinner with the current phase and the elapsed time."""

    def __init__(self, console: Console = err_console) -> None:
        self._console = console
        self._status: Any = None
        self._phase = ""
        self._start = time.monotonic()
        self._phase_start = self._start

    def __enter__(self) -> RichReporter:
        self._status = self._console.status("starting", spinner="dots")
        self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(None, None, None)
            self._status = None

    def phase(self, name: str, detail: str = "") -> None:
        now = time.monotonic()
        if name != self._phase:
            if self._phase:
                self._console.print(f"[green]✓[/green] {self._phase} [dim]({now - self._phase_start:.1f}s)[/dim]")
            self._phase = name
            self._phase_start = now
        text = f"{name} [dim]{detail}[/dim]" if detail else name
        if self._status is not None:
            self._status.update(f"{text} [dim]{now - self._start:.0f}s[/dim]")

    def done(self) -> None:
        """Close the last phase with a check mark."""
        if self._phase:
            now = time.monotonic()
            self._console.print(f"[green]✓[/green] {self._phase} [dim]({now - self._phase_start:.1f}s)[/dim]")
            self._phase = ""

    def info(self, message: str) -> None:
        self._console.print(message)

    def warn(self, message: str) -> None:
        self._console.print(f"[yellow]warning:[/yellow] {message}")


@contextmanager
def progress() -> Iterator[RichReporter]:
    """A live reporter for the duration of the block."""
    with RichReporter() as reporter:
        yield reporter
        reporter.done()


def demo_notice(models: Iterable[ModelDeployment]) -> None:
    """Say once per command that the demo model's words are noise (when one of ``models`` is the demo)."""
    if any(m.is_demo for m in models):
        err_console.print(
            "[dim]note: the 'demo' model has random weights: its replies are noise. "
            "It exists to prove the path end to end; set models[].source to a real model to get words.[/dim]"
        )
