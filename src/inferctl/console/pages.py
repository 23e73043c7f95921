"""What each page shows, as plain values for its template: rows of text, charts as SVG markup, bar widths.
Pure: the watch's :class:`~inferctl.console.watch.Picture` (and the figures) in, dicts out.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from inferctl.bench.report import table_rows
from inferctl.bench.saved import SavedRun
from inferctl.console.charts import Series, ago, line_chart
from inferctl.console.figures import PlannedCosts, cost_now
from inferctl.console.watch import LoadPoint, Picture
from inferctl.views.load import footer, headline, number_text, percent_text
from inferctl.views.nodes import fleet_notes, price_text, resource_uses, usage_colour

MIN_WINDOW_S = 60.0


def freshness(picture: Picture, now: float | None = None) -> dict[str, Any]:
    """How old the data is, and what failed in the last read (each error with its time)."""
    now = time.time() if now is None else now
    age = None if picture.read_at is None else max(0.0, now - picture.read_at)
    errors = [
        f"{part} read at {time.strftime('%H:%M:%S', time.localtime(at))} failed: {message}"
        for part, (message, at) in sorted(picture.errors.items())
    ]
    return {"age": "no data yet" if age is None else f"data from {age:.0f} s ago", "errors": errors}


def overview(picture: Picture, planned: PlannedCosts | str | None, target: str) -> dict[str, Any]:
    report = picture.report
    models = [
        {
            "name": m.name,
            "state": m.state,
            "ready": "-" if m.desired is None else f"{m.ready}/{m.desired}",
            "running": number_text(m.running),
            "waiting": number_text(m.waiting),
            "kv": percent_text(m.kv_cache_pct),
            "tok_s": number_text(m.output_tokens_per_s, 1),
            "where": m.where or "-",
            "note": m.note or "",
        }
        for m in picture.loads
    ]
    endpoints: dict[str, list[str]] = {}
    keyed: set[str] = set()
    for e in picture.endpoints:
        endpoints.setdefault(e.base_url, []).append(e.model)
        if e.key_required:
            keyed.add(e.base_url)
    now_usd, now_basis = cost_now(report, picture.nodes)
    return {
        "headline": headline(report) if report is not None else f"target {target} · not read yet",
        "state": getattr(report, "state", None) or "-",
        "models": models,
        "facts": footer(report) if report is not None else [],
        "endpoints": [
            {"url": url, "models": ", ".join(names), "key": url in keyed} for url, names in endpoints.items()
        ],
        "endpoints_note": picture.endpoints_note,
        "cost_now": "free" if now_usd == 0 else price_text(now_usd) + "/h" if now_usd is not None else "-",
        "cost_now_basis": now_basis,
        "planned": planned if isinstance(planned, PlannedCosts) else None,
        "planned_note": planned if isinstance(planned, str) else None,
        "local": target == "local",
    }


def load_charts(picture: Picture, window_s: float, now: float | None = None) -> list[dict[str, Any]]:
    """Per model: requests running/waiting, KV cache, output tok/s and TTFT over the history kept (at most the last
    ``window_s`` seconds)."""
    now = time.time() if now is None else now
    out = []
    for name, points in picture.history.items():

        def series(label: str, pick: Any, *, dashed: bool = False, pts: Sequence[LoadPoint] = tuple(points)) -> Series:
            return Series(label, [(p.at - now, pick(p)) for p in pts], dashed=dashed)

        # The window grows with the history, from a minute up to ``window_s``: lines fill the chart from the start.
        span = now - points[0].at if points else 0.0
        window = (-min(window_s, max(MIN_WINDOW_S, span)), 0.0)
        last = points[-1] if points else None
        charts = [
            line_chart(
                [series("running", lambda p: p.running), series("waiting", lambda p: p.waiting, dashed=True)],
                title="requests",
                x_range=window,
                x_label=ago,
            ),
            line_chart(
                [series("KV cache", lambda p: p.kv_cache_pct)], title="KV cache", unit="%", x_range=window, x_label=ago
            ),
            line_chart(
                [series("tok/s", lambda p: p.output_tokens_per_s)],
                title="output tokens/s",
                x_range=window,
                x_label=ago,
            ),
            line_chart(
                [series("p50", lambda p: p.ttft_p50_ms), series("p99", lambda p: p.ttft_p99_ms, dashed=True)],
                title="time to first token",
                unit="ms",
                x_range=window,
                x_label=ago,
            ),
        ]
        now_text = (
            f"running {number_text(last.running)} · waiting {number_text(last.waiting)} · KV "
            f"{percent_text(last.kv_cache_pct)} · {number_text(last.output_tokens_per_s, 1)} tok/s · TTFT p50 "
            f"{number_text(last.ttft_p50_ms)} ms"
            if last is not None
            else ""
        )
        out.append({"name": name, "charts": charts, "now": now_text})
    return out


def nodes_board(picture: Picture) -> dict[str, Any] | None:
    """``nodes --watch`` as rows with bars: the fleet, then each node; None before the first read."""
    view = picture.nodes
    if view is None:
        return None

    def bars(of: Any) -> list[dict[str, Any]]:
        return [
            {
                "resource": use.resource,
                "amount": use.amount,
                "share": f"{use.share:.0%}",
                "width": round(min(max(use.share, 0.0), 1.0) * 100, 1),
                "colour": usage_colour(use.share),
            }
            for use in resource_uses(of)
        ]

    totals = view.totals
    return {
        "fleet": {
            "nodes": totals.nodes,
            "cost": f"{price_text(totals.usd_per_hour)}/h · ~{price_text(totals.usd_per_month, 2)}/month",
            "bars": bars(totals),
            "notes": fleet_notes(view),
        },
        "nodes": [
            {
                "name": node.name,
                "instance": node.instance_type or "-",
                "capacity": node.capacity_type,
                "price": price_text(node.usd_per_hour) + "/h",
                "ready": "Ready" if node.ready == "True" else "NotReady",
                "pods": node.pods,
                "group": node.group or "-",
                "zone": node.zone or "-",
                "age": node.age,
                "bars": bars(node),
            }
            for node in view.nodes
        ],
    }


def bench_run(run: SavedRun) -> dict[str, Any]:
    """A saved run's facts and its levels as the terminal's table shows them."""
    report = run.report
    endpoint = report.get("endpoint", {})
    price = report.get("price", {})
    return {
        "id": run.id,
        "when": run.finished_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
        "model": run.model,
        "endpoint": f"{endpoint.get('base_url', '?')} ({endpoint.get('api', '?')})",
        "prompts": report.get("workload", {}).get("prompts", ""),
        "price": price.get("basis", ""),
        "rows": table_rows(report),
        "notes": list(report.get("notes") or []),
    }


def run_summary(run: SavedRun) -> dict[str, Any]:
    """One line of the list of runs: when, which model, its levels, the best output rate."""
    best = max((float(lvl.get("output_throughput") or 0) for lvl in run.levels), default=0.0)
    return {
        "id": run.id,
        "when": run.finished_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
        "model": run.model,
        "levels": ", ".join(str(lvl.get("label", "")) for lvl in run.levels),
        "best": f"{best:,.0f} tok/s",
    }


__all__ = ["bench_run", "freshness", "load_charts", "nodes_board", "overview", "run_summary"]
