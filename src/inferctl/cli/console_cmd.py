"""``inferctl console``: a local web console for the platform of the current config (see inferctl.console)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferctl.cli.common import ConfigOpt, TargetOpt, console, err_console, load


def register(app: typer.Typer) -> None:
    @app.command("console", rich_help_panel="Use")
    def console_command(
        config: ConfigOpt = None,
        target: TargetOpt = None,
        port: Annotated[
            int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (default 0: a free one).")
        ] = 0,
        interval: Annotated[
            float, typer.Option("--interval", min=0.5, help="Seconds between reads of the platform.")
        ] = 2.0,
        open_browser: Annotated[
            bool, typer.Option("--open/--no-open", help="Open the address in this machine's web browser.")
        ] = False,
    ) -> None:
        """A local web console: models and their load, nodes, the architecture, a chat and bench runs (read-only).

        Served on 127.0.0.1 only; the address it prints carries a token that opens it once (the browser then keeps
        a cookie). Ctrl-C stops it."""
        from inferctl.console.server import check_installed

        check_installed()
        from inferctl.console.app import Console
        from inferctl.console.guard import Keys
        from inferctl.console.server import bind, serve
        from inferctl.home import Home
        from inferctl.targets import target_for

        cfg = load(config, target=target)
        home = Home.from_env()
        keys = Keys()
        sock = bind(port)

        def ready(address: str) -> None:
            err_console.print(
                f"[bold]inferctl console[/bold] for platform {cfg.name} ({cfg.target}); open this address in a "
                "browser on this machine (its token works once); Ctrl-C stops the console:"
            )
            console.print(address, soft_wrap=True, highlight=False)
            if open_browser:
                import webbrowser

                webbrowser.open(address)

        serve(Console(cfg, target_for(cfg, home), home, interval_s=interval), sock, keys, on_ready=ready)
