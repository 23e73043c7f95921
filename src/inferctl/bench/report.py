"""A benchmark run as data (the ``--output json`` document), as table rows, and as a PNG plot."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from inferctl.bench.pricing import Price
from inferctl.bench.runner import BenchRun, LevelResult
from inferctl.bench.stats import Distribution, usd_per_million_tokens
from inferctl.errors import MissingDependencyError, UserError, output_file


def _dist(dist: Distribution) -> dict[str, float]:
    return {k.removesuffix("_ms"): round(v, 3) for k, v in asdict(dist).items() if k != "count"}


def level_dict(result: LevelResult, price: Price) -> dict[str, Any]:
    m = result.metrics
    if m.completed == 0:
        source = None
    elif result.usage_reported == m.completed:
        source = "usage"
    else:
        source = "chunks" if result.usage_reported == 0 else "usage and chunks"
    return {
        "label": result.level.label,
        **result.level.to_dict(),
        "sent": result.sent,
        "completed": m.completed,
        "failed": m.failed,
        "errors": result.errors,
        "error_examples": result.error_examples,
        "duration_s": round(m.duration_s, 3),
        "input_tokens": m.input_tokens,
        "output_tokens": m.output_tokens,
        "output_tokens_from": source,
        "request_throughput": round(m.request_throughput, 4),
        "output_throughput": round(m.output_throughput, 2),
        "total_token_throughput": round(m.total_token_throughput, 2),
        "goodput": None if m.goodput is None else round(m.goodput, 4),
        "good_requests": m.good_requests,
        "ttft_ms": _dist(m.ttft),
        "tpot_ms": _dist(m.tpot),
        "itl_ms": _dist(m.itl),
        "e2el_ms": _dist(m.e2el),
        "usd_per_1m_output_tokens": _money(usd_per_million_tokens(price.usd_per_hour, m.output_throughput)),
        "usd_per_1m_total_tokens": _money(usd_per_million_tokens(price.usd_per_hour, m.total_token_throughput)),
    }


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def report_dict(run: BenchRun, price: Price, *, notes: list[str] | None = None) -> dict[str, Any]:
    """Everything the run measured; contains no secret (the API key is never part of it)."""
    spec = run.spec
    if any(lvl.rate is not None for lvl in spec.levels):
        arrivals = "poisson" if spec.burstiness == 1.0 else f"gamma (burstiness {spec.burstiness:g})"
    else:
        arrivals = "back to back (fixed concurrency)"
    levels = [level_dict(result, price) for result in run.levels]
    wake = {"wake_up": run.wake_up.to_dict()} if run.wake_up is not None else {}
    return {
        **wake,
        "endpoint": {"base_url": spec.base_url, "model": spec.model, "api": spec.api},
        "workload": {
            "prompts": run.prompts,
            "exact_input_lengths": run.exact_input_lengths,
            "exact_output_lengths": spec.exact_output,
            "requests_per_level": spec.requests,
            "duration_s_per_level": spec.duration_s,
            "warmup_requests": spec.warmup,
            "arrivals": arrivals,
            "seed": spec.seed,
            "slo_ms": spec.slo.to_dict() if spec.slo else None,
            "client": run.client,
        },
        "price": price.to_dict(),
        "levels": levels,
        "notes": [*(notes or []), *_run_notes(run)],
    }


def _run_notes(run: BenchRun) -> list[str]:
    out: list[str] = [run.wake_up.describe()] if run.wake_up is not None else []
    if not run.exact_input_lengths and run.prompts.startswith("random"):
        out.append("prompt lengths are approximate (no tokenizer); input tokens come from the server's usage")
    for result in run.levels:
        m = result.metrics
        if result.short_outputs:
            out.append(
                f"{result.level.label}: {result.short_outputs} replies were shorter than asked; "
                "the server may ignore ignore_eos/min_tokens (they are vLLM parameters)"
            )
        if m.completed and result.usage_reported < m.completed:
            out.append(f"{result.level.label}: the server sent no usage; output tokens were counted as chunks")
        if m.failed:
            kinds = ", ".join(f"{k} x{n}" for k, n in sorted(result.errors.items()))
            out.append(f"{result.level.label}: {m.failed} of {result.sent} requests failed ({kinds})")
    return out


def table_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One compact row per level for the terminal, latencies in ms (the JSON output has every statistic)."""
    rows = []
    for lvl in report["levels"]:
        done = str(lvl["completed"]) + (f" +{lvl['failed']} failed" if lvl["failed"] else "")
        row: dict[str, Any] = {
            "level": short_label(lvl["label"]),
            "done": done,
            "req/s": f"{lvl['request_throughput']:,.2f}",
            "tok/s out": f"{lvl['output_throughput']:,.0f}",
            "TTFT p50": _ms(lvl["ttft_ms"]["p50"]),
            "TTFT p99": _ms(lvl["ttft_ms"]["p99"]),
            "TPOT p50": _ms(lvl["tpot_ms"]["p50"]),
            "ITL p50": _ms(lvl["itl_ms"]["p50"]),
            "E2E p99": _ms(lvl["e2el_ms"]["p99"]),
        }
        if lvl["goodput"] is not None:
            row["goodput"] = f"{lvl['goodput']:,.2f}"
        cost = lvl["usd_per_1m_output_tokens"]
        row["$/1M out"] = None if cost is None else f"{cost:,.3f}"
        rows.append(row)
    return rows


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def check_plot_path(path: Path) -> None:
    """Fail before a long run, not after it: the name must end in .png, its folder must be writable and
    matplotlib must be installed."""
    import importlib.util
    import os

    if path.suffix.lower() != ".png":
        raise UserError(f"--plot {path} must name a .png file")
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # write_plot creates the missing folders below this one
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise UserError(f"cannot write {path} ({folder} is not a writable folder); choose another --plot")
    if importlib.util.find_spec("matplotlib") is None:
        raise MissingDependencyError("--plot needs matplotlib: pip install 'inferctl[bench]'")


def write_plot(report: dict[str, Any], path: Path) -> Path:
    """PNG: output throughput against TTFT and TPOT (p50 and p99) across the sweep's levels."""
    if path.suffix.lower() != ".png":
        raise UserError(f"--plot {path} must name a .png file")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("--plot needs matplotlib: pip install 'inferctl[bench]'") from None
    levels = [lvl for lvl in report["levels"] if lvl["completed"]]
    xs = [lvl["output_throughput"] for lvl in levels]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, key, title in (
        (axes[0], "ttft_ms", "time to first token"),
        (axes[1], "tpot_ms", "time per output token"),
    ):
        for pct, style in (("p50", "o-"), ("p99", "s--")):
            ax.plot(xs, [lvl[key][pct] for lvl in levels], style, label=pct)
        for x, lvl in zip(xs, levels, strict=True):
            ax.annotate(
                short_label(lvl["label"]),
                (x, lvl[key]["p50"]),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
        ax.set_xlabel("output tokens / s")
        ax.set_ylabel(f"{title} (ms)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    endpoint = report["endpoint"]
    fig.suptitle(f"{endpoint['model']} at {endpoint['base_url']} ({endpoint['api']})", fontsize=10)
    fig.tight_layout()
    try:
        with output_file(path, "--plot"):
            fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def short_label(label: str) -> str:
    """``concurrency 8`` -> ``c=8``; ``rate 2/s, max 8 in flight`` -> ``2/s c<=8``."""
    return label.replace("concurrency ", "c=").replace("rate ", "").replace(", max ", " c<=").replace(" in flight", "")
