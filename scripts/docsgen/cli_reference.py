"""docs/reference/cli.md from the typer app: every command, argument and option with its type, default and help.

Read through the click command tree typer builds (the objects ``inferctl --help`` prints from), so the page says
exactly what the CLI accepts.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from scripts.docsgen.markdown import code, header, table, text

_SUFFIX = re.compile(r"\s*\[([^\[\]]*)\]$")


def generate() -> str:
    import typer

    from inferctl.cli.app import app

    root = typer.main.get_command(app)
    out = [
        header("the typer app (src/inferctl/cli/)"),
        "# CLI reference\n",
        "Every command of `inferctl`, with its arguments and options as `inferctl COMMAND --help` shows them. "
        "Options that take no value are flags; `--x / --no-x` pairs switch a setting on or off. Every command also "
        "takes `--help`.\n",
    ]
    for path, command, ctx in _walk(root, ["inferctl"], None):
        out.append(_command_section(path, command, ctx))
    return "\n".join(out)


def _walk(command: Any, path: list[str], parent: Any) -> list[tuple[list[str], Any, Any]]:
    ctx = type(command).context_class(command, info_name=path[-1], parent=parent)
    found = [(path, command, ctx)]
    if hasattr(command, "list_commands"):
        for name in command.list_commands(ctx):
            child = command.get_command(ctx, name)
            if child is not None and not child.hidden:
                found += _walk(child, [*path, name], ctx)
    return found


def _command_section(path: list[str], command: Any, ctx: Any) -> str:
    level = "#" * min(len(path) + 1, 4)
    title = " ".join(path)
    lines = [f"{level} `{title}`\n"]
    doc = inspect.cleandoc(command.help or "")
    if doc:
        lines.append(doc + "\n")
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines.append(f"Usage: `{title} {usage}`\n")
    if hasattr(command, "commands"):
        subs = [
            (code(name), text(sub.get_short_help_str(limit=200)))
            for name in command.list_commands(ctx)
            if (sub := command.get_command(ctx, name)) is not None and not sub.hidden
        ]
        if subs:
            lines.append(table(("command", "what it does"), subs))
    rows = [_param_row(param, ctx) for param in command.get_params(ctx) if not param.hidden and param.name != "help"]
    rows = [row for row in rows if row is not None]
    if rows:
        lines.append(table(("argument / option", "value", "default", "description"), rows))
    return "\n".join(lines)


def _param_row(param: Any, ctx: Any) -> tuple[str, str, str, str] | None:
    record = param.get_help_record(ctx)
    if record is None:  # an argument without help: name it all the same
        record = (param.human_readable_name, "")
    names, help_text = record
    value = ""
    if "<" in names:  # typer prints the metavar as '<type>' after the names
        names, _, value = names.partition(" <")
        value = "<" + value
    elif param.param_type_name == "argument":
        names, _, value = names.partition(" ")
    default, limits = "", []
    suffix = _SUFFIX.search(help_text)
    if suffix:
        help_text = help_text[: suffix.start()]
        for item in suffix.group(1).split("; "):
            if item.startswith("default: "):
                default = item.removeprefix("default: ")
            else:
                limits.append(item)
    if not default and getattr(param, "is_flag", False) and not param.secondary_opts and param.name != "help":
        default = "off"
    if param.required:
        default = "required"
    described = help_text.strip() + (f" ({', '.join(limits)})" if limits else "")
    return (code(names.replace(", ", " ")), code(value), code(default) if default else "", text(described))
