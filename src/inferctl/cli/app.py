"""The ``inferctl`` command. Thin: each command module parses flags, calls the library, prints.

Known errors (:class:`InferctlError`) become one red line and exit 1/2; anything else is a bug and keeps its
traceback. Command modules import heavy libraries inside their commands, never at module level, so
``inferctl --help`` stays fast.
"""

from __future__ import annotations

import sys
from importlib import import_module

import typer
from rich.console import Console
from rich.markup import escape

from inferctl import __version__
from inferctl.errors import InferctlError

# Each module has ``register(app)``; the order is the order of ``inferctl --help``.
COMMAND_MODULES = (
    "lifecycle",
    "chat",
    "console_cmd",
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
    """Run the CLI; returns the exit code. Every error is one red ``error:`` line: usage errors (exit 2) as well as
    inferctl's own (exit 1/2); click's boxed panel is not used."""
    from typer.exceptions import TyperException

    from inferctl.cli.common import err_console

    command = typer.main.get_command(app)
    try:
        # standalone_mode=False: typer raises its usage errors here instead of printing its boxed panel and exiting;
        # --help and typer.Exit come back as the exit code.
        result = command.main(args=argv, prog_name="inferctl", standalone_mode=False)
    except TyperException as exc:  # typer 0.29's (vendored click's) ClickException, UsageError, BadParameter, ...
        if type(exc).__name__ == "NoArgsIsHelpError":
            # A bare 'inferctl' or command group: typer has printed the help already; the message is that help.
            if exc.format_message().strip():
                typer.echo(exc.format_message())
            return exc.exit_code
        ctx = getattr(exc, "ctx", None)
        message = _lower_first(exc.format_message().rstrip("."))
        if ctx is not None or exc.exit_code == 2:
            message += f" (see '{ctx.command_path if ctx is not None else 'inferctl'} --help')"
        _print_error(err_console, message)
        return exc.exit_code
    except typer.Abort:
        _print_error(err_console, "aborted; nothing more was done")
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except InferctlError as exc:
        _print_error(err_console, exc.message)
        for line in exc.details:
            err_console.print(f"  {escape(line)}", style="dim", soft_wrap=True)
        return exc.exit_code
    return result if isinstance(result, int) else 0


def _print_error(console: Console, message: str) -> None:
    console.print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True)


def _lower_first(message: str) -> str:
    """Click's 'No such option: --x' as 'no such option: --x'; an acronym ('URL ...') stays as it is."""
    if len(message) > 1 and message[0].isupper() and message[1].islower():
        return message[0].lower() + message[1:]
    return message


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
