"""``inferctl bench``: load-test the platform's endpoint (or any OpenAI-compatible URL), price its tokens."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inferctl.cli.common import (
    ConfigOpt,
    OutputFormat,
    OutputOpt,
    TargetOpt,
    console,
    demo_notice,
    emit_json,
    err_console,
    load,
    table,
)
from inferctl.cli.running import follow_running, running_deployments
from inferctl.errors import ConfigError, InferctlError, OperationError
from inferctl.targets import target_for

if TYPE_CHECKING:
    from inferctl.bench import BenchEndpoint, LengthRange, Level, Progress, PromptSource
    from inferctl.config.models import PlatformConfig

DEFAULT_CONCURRENCY = "1,8,32"
# On a narrow terminal the table keeps throughput, TTFT and cost; ITL, req/s and goodput go first.
TABLE_PRIORITIES = {"level": 0, "goodput": 3, "req/s": 3, "ITL p50": 4, "TTFT p99": 2, "TPOT p50": 2, "E2E p99": 2}
OPENAI_KEY_ENV = "OPENAI_API_KEY"
BenchModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model to load: a served or configured name (default: the only one served)."),
]


def register(app: typer.Typer) -> None:
    app.command("bench", rich_help_panel="Use")(bench)


def bench(
    *,
    config: ConfigOpt = None,
    target: TargetOpt = None,
    model: BenchModelOpt = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Any OpenAI-compatible base URL (default: the running platform)."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Key for --url (default: $OPENAI_API_KEY), or instead of the platform's own key. Never printed.",
        ),
    ] = None,
    concurrency: Annotated[
        str | None,
        typer.Option("--concurrency", help=f"Sweep of fixed concurrencies (default {DEFAULT_CONCURRENCY})."),
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option("--rate", help="Request rates per second, e.g. 1,2,4 (random arrivals; --concurrency caps)."),
    ] = None,
    burstiness: Annotated[
        float,
        typer.Option("--burstiness", min=0.01, help="Arrival shape: 1 Poisson, <1 burstier, >1 smoother."),
    ] = 1.0,
    requests: Annotated[
        int | None,
        typer.Option("--requests", "-n", min=1, help="Requests per level (default: 4 x concurrency, at least 16)."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0.1, help="Seconds per level to keep sending.")
    ] = None,
    input_len: Annotated[str, typer.Option("--input-len", help="Prompt tokens: 256, or a range 128-512.")] = "256",
    output_len: Annotated[str, typer.Option("--output-len", help="Output tokens: 128, or a range 64-256.")] = "128",
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", help="JSONL of {'prompt'} or {'messages'} lines, or 'synthetic' (built-in chats)."),
    ] = None,
    tokenizer: Annotated[
        str | None, typer.Option("--tokenizer", help="Model dir (or cached HF id) for exact prompt lengths.")
    ] = None,
    api: Annotated[str, typer.Option("--api", help="auto | completions | chat.")] = "auto",
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Unmeasured requests before the first level.")] = 2,
    slo: Annotated[
        str | None, typer.Option("--slo", help="Goodput objectives, e.g. ttft=500ms,tpot=50ms,e2e=10s.")
    ] = None,
    price: Annotated[
        float | None, typer.Option("--price", min=0.0, help="USD per hour of the serving hardware.")
    ] = None,
    exact_output: Annotated[
        bool,
        typer.Option("--exact-output/--no-exact-output", help="Ask for exactly --output-len tokens (vLLM ignore_eos)."),
    ] = True,
    timeout: Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds a request may stay silent.")] = 300.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of prompts and arrivals.")] = 0,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a PNG of throughput vs latency.")] = None,
    wake_up: Annotated[
        bool | None,
        typer.Option(
            "--wake-up/--no-wake-up",
            help="Time the first request alone (a model that scales to zero wakes on it). Default: on for such models.",
        ),
    ] = None,
    save: Annotated[
        bool,
        typer.Option(
            "--save/--no-save", help="Keep the report under the platform's home folder (runs against it, not --url)."
        ),
    ] = True,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Load-test an endpoint: TTFT, TPOT, ITL and latency percentiles, throughput, goodput and $/1M tokens."""
    from inferctl import bench as lib

    levels = _levels(concurrency, rate)
    in_len = lib.LengthRange.parse(input_len, "--input-len")
    out_len = lib.LengthRange.parse(output_len, "--output-len")
    slo_spec = lib.parse_slo(slo) if slo else None
    if api not in {"auto", "completions", "chat"}:
        raise ConfigError(f"--api {api!r} is not one of auto, completions, chat")
    if plot is not None:
        lib.check_plot_path(plot)

    cfg = None
    model_dir: Path | None = None
    if url:
        # $OPENAI_API_KEY only for --url: the platform has its own key, and the variable often holds an
        # OpenAI key that must not be sent to (and refused by) the platform's endpoint.
        chosen = lib.from_url(url, api_key or os.environ.get(OPENAI_KEY_ENV) or None, model)
    else:
        cfg = load(config, target=target)
        # Local: the running model is the truth (its deployment, its directory's tokenizer), not the config.
        served = follow_running(target_for(cfg), model)
        if served is not None:
            chosen = lib.BenchEndpoint(served.endpoint, running_deployments(cfg, served)[0])
            model_dir = Path(served.model_path)
        else:
            chosen = lib.from_platform(cfg, model)
        if api_key:
            chosen = lib.BenchEndpoint(replace(chosen.endpoint, api_key=api_key), chosen.deployment)

    if chosen.deployment is not None:
        demo_notice([chosen.deployment])
    source = _prompt_source(dataset, tokenizer, in_len, out_len, chosen, _served_dir(model_dir))
    api_kind: lib.ApiKind = "chat" if api == "chat" or (api == "auto" and source.chat_only) else "completions"
    if price is not None:
        hourly = lib.flag_price(price)
    elif cfg is None:
        hourly = lib.Price(None, "unknown for --url; pass --price USD_PER_HOUR of the hardware behind it")
    else:
        hourly = lib.target_price(cfg, chosen.deployment)

    wake = _scales_to_zero(chosen) if wake_up is None else wake_up
    spec = lib.BenchSpec(
        base_url=chosen.endpoint.base_url,
        model=chosen.endpoint.model,
        api=api_kind,
        levels=tuple(levels),
        api_key=chosen.endpoint.api_key,
        requests=requests,
        duration_s=duration,
        warmup=warmup,
        burstiness=burstiness,
        exact_output=exact_output,
        slo=slo_spec,
        timeout_s=timeout,
        seed=seed,
        wake_up=wake,
        **(_wake_timeout(cfg, chosen) if wake else {}),
    )
    if output is OutputFormat.table:
        err_console.print(
            f"[bold]bench[/bold] {spec.model} at {spec.base_url} ({spec.api}); prompts: {source.description}"
        )
    with _ProgressBar() as bar:
        run = lib.run_bench(spec, source, bar.update)
    notes = [chosen.endpoint.note] if chosen.endpoint.note else []
    report = lib.report_dict(run, hourly, notes=notes)
    if plot is not None:
        lib.write_plot(report, plot)
    kept = _keep(cfg, report) if save else None
    if output is OutputFormat.json:
        emit_json(report)
    else:
        _print_table(report, plot)
    if kept is not None:
        err_console.print(f"[dim]kept as {kept} ('inferctl console' charts it)[/dim]", soft_wrap=True)
    if not any(lvl["completed"] for lvl in report["levels"]):
        raise OperationError("no request succeeded in any level; see the errors above")


def _keep(cfg: PlatformConfig | None, report: dict[str, Any]) -> Path | None:
    """Save a run against the platform (a --url run has none) under its home folder; a failure only warns."""
    from inferctl.bench.saved import save_run
    from inferctl.home import Home

    if cfg is None:
        return None
    try:
        return save_run(Home.from_env(), cfg.name, report)
    except InferctlError as exc:
        err_console.print(f"[yellow]warning:[/yellow] {exc.message}", soft_wrap=True)
        return None


def _scales_to_zero(chosen: BenchEndpoint) -> bool:
    settings = chosen.deployment.autoscaling if chosen.deployment is not None else None
    return settings is not None and settings.scales_to_zero


def _wake_timeout(cfg: PlatformConfig | None, chosen: BenchEndpoint) -> dict[str, float]:
    """The first request's silence budget: the configured model's request chain (a --url has none we know)."""
    if cfg is None or chosen.deployment is None:
        return {}
    from inferctl.sizing.request_timeouts import client_timeouts

    return {"wake_timeout_s": float(client_timeouts(cfg, chosen.deployment).client_s)}


def _levels(concurrency: str | None, rate: str | None) -> list[Level]:
    from inferctl.bench import Level

    if rate is None:
        return [Level(concurrency=c) for c in _numbers(concurrency or DEFAULT_CONCURRENCY, "--concurrency", int)]
    rates = _numbers(rate, "--rate", float)
    caps = _numbers(concurrency, "--concurrency", int) if concurrency else [None]
    if len(caps) != 1:
        raise ConfigError("with --rate, --concurrency is one cap (e.g. --concurrency 32), not a sweep")
    return [Level(concurrency=caps[0], rate=r) for r in rates]


def _numbers(text: str, flag: str, kind: type[Any]) -> list[Any]:
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"{flag} {text!r} must be positive numbers separated by commas, e.g. 1,8,32")
    return values


def _prompt_source(
    dataset: str | None,
    tokenizer: str | None,
    in_len: LengthRange,
    out_len: LengthRange,
    chosen: BenchEndpoint,
    served_dir: Path | None = None,
) -> PromptSource:
    from inferctl import bench as lib

    if dataset == lib.SYNTHETIC and not Path(dataset).exists():
        return lib.SyntheticConversations(out_len)
    if dataset:
        return lib.DatasetPrompts(Path(dataset).expanduser(), out_len)
    location = served_dir if tokenizer is None and served_dir is not None else _tokenizer_location(tokenizer, chosen)
    codec = None
    if location is not None:
        try:
            codec = lib.load_codec(location)
        except InferctlError:
            if tokenizer:  # asked for explicitly: say what is wrong; found on our own: approximate instead
                raise
    return lib.RandomPrompts(in_len, out_len, codec)


def _served_dir(path: Path | None) -> Path | None:
    """The served model's directory when it holds a tokenizer (a hub id is left to find_tokenizer)."""
    if path is not None and (path / "tokenizer_config.json").is_file():
        return path
    return None


def _tokenizer_location(tokenizer: str | None, chosen: BenchEndpoint) -> Path | None:
    from inferctl.bench import tokenizer_for
    from inferctl.home import Home

    return tokenizer_for(chosen.deployment, Home.from_env(), tokenizer)


class _ProgressBar:
    """A rich progress bar on stderr, one line per level; fed by the runner's progress callback."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]}[/red]"),
            TimeElapsedColumn(),
            console=err_console,
            transient=False,
        )
        self._tasks: dict[tuple[str, int], Any] = {}

    def __enter__(self) -> _ProgressBar:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def update(self, event: Progress) -> None:
        key = (event.phase, event.index)
        if key not in self._tasks:
            self._tasks[key] = self._bar.add_task(event.label, total=event.total, failed="")
        failed = f"{event.failed} failed" if event.failed else ""
        self._bar.update(self._tasks[key], completed=event.done, failed=failed)


def _print_table(report: dict[str, Any], plot: Path | None) -> None:
    from inferctl.bench import table_rows

    endpoint, workload, price = report["endpoint"], report["workload"], report["price"]
    title = f"{endpoint['model']} at {endpoint['base_url']} ({endpoint['api']}); latencies in ms"
    console.print(table(title, table_rows(report), priorities=TABLE_PRIORITIES))
    console.print(f"[bold]prompts[/bold]: {workload['prompts']}")
    hourly = price["usd_per_hour"]
    cost = "unknown" if hourly is None else ("free" if hourly == 0 else f"${hourly:,.4f}/h")
    console.print(f"[bold]price[/bold]: {cost}; {price['basis']}")
    if workload["slo_ms"]:
        objectives = ", ".join(f"{k.removesuffix('_ms')} <= {v:g} ms" for k, v in workload["slo_ms"].items())
        console.print(f"[bold]goodput SLO[/bold]: {objectives}")
    for note in report["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
    if plot is not None:
        console.print(f"[bold]plot[/bold]: {plot}")
