"""Benchmark any OpenAI-compatible endpoint: load generator, vLLM-compatible metrics, cost per token, plots.

Layers, each usable alone::

    prompts   where requests come from (random tokens, JSONL, built-in conversations)
    client    one streamed, timed request (httpx)
    transport a lean HTTP/1.1 transport for httpx: the generator's CPU per token is the server's loss
    runner    levels of concurrency or request rate -> BenchRun
    stats     the arithmetic (pure): percentiles, TTFT/TPOT/ITL/E2E, throughput, goodput, $/1M tokens
    pricing   the hardware's hourly price: --price, local (free), or the cluster placement's instance
    report    BenchRun -> JSON-able dict, table rows, PNG plot

httpx, the transport and matplotlib are imported inside the functions that use them.
"""

from inferctl.bench.client import ApiKind, Prompt, RequestOutcome
from inferctl.bench.endpoint import BenchEndpoint, from_platform, from_url, normalize_base_url
from inferctl.bench.pricing import Price, flag_price, local_price, placement_price, target_price
from inferctl.bench.prompts import (
    SYNTHETIC,
    DatasetPrompts,
    LengthRange,
    PromptSource,
    RandomPrompts,
    SyntheticConversations,
    find_tokenizer,
    load_codec,
    tokenizer_for,
)
from inferctl.bench.report import check_plot_path, report_dict, table_rows, write_plot
from inferctl.bench.runner import BenchRun, BenchSpec, Level, LevelResult, Progress, arun_bench, run_bench
from inferctl.bench.stats import Distribution, LevelMetrics, RequestTiming, Slo, parse_slo, percentile

__all__ = [
    "SYNTHETIC",
    "ApiKind",
    "BenchEndpoint",
    "BenchRun",
    "BenchSpec",
    "DatasetPrompts",
    "Distribution",
    "LengthRange",
    "Level",
    "LevelMetrics",
    "LevelResult",
    "Price",
    "Progress",
    "Prompt",
    "PromptSource",
    "RandomPrompts",
    "RequestOutcome",
    "RequestTiming",
    "Slo",
    "SyntheticConversations",
    "arun_bench",
    "check_plot_path",
    "find_tokenizer",
    "flag_price",
    "from_platform",
    "from_url",
    "load_codec",
    "local_price",
    "normalize_base_url",
    "parse_slo",
    "percentile",
    "placement_price",
    "report_dict",
    "run_bench",
    "table_rows",
    "target_price",
    "tokenizer_for",
    "write_plot",
]
