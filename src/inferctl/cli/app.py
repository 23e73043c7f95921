"""The ``inferctl`` command. Thin: each command module parses flags, calls the library, prints.

Known errors (:class:`InferctlError`) become one red line and exit 1/2; anything else is a bug and keeps its
traceback. Command modules import heavy libraries inside their commands, never at module level, so
``inferctl --help`` stays fast.
"""

from __future__ import annotations

import sys
from importlib import import_module

import typer
from rich.markup import escape

from inferctl import __version__
from inferctl.errors import InferctlError

# Each module has ``register(app)``; the order is the order of ``inferctl --help``.
COMMAND_MODULES = (
    "lifecycle",
    "chat",
    "config_cmd",
    "bench",
    "diagram",
    "render",
    "nodes",
    "plan",
    "aws_cmd",
    "cache",
)

app = typer.Typer(
    name="inferctl",
    help="Self-hosted, cost-optimized LLM inference as code: vLLM locally, on any Kubernetes, or on EKS + Karpenter.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"inferctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Self-hosted, cost-optimized LLM inference as code."""


for _name in COMMAND_MODULES:
    import_module(f"inferctl.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code. Usage errors are typer's (exit 2), known errors one red line."""
    from inferctl.cli.common import err_console

    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="inferctl", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except InferctlError as exc:
        err_console.print(f"[bold red]error:[/bold red] {escape(exc.message)}", soft_wrap=True)
        for line in exc.details:
            err_console.print(f"  {escape(line)}", style="dim", soft_wrap=True)
        return exc.exit_code
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
