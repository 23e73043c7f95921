"""Small line charts as SVG, drawn on the server: the console needs no chart library and fetches nothing.

:func:`line_chart` draws series of (x, y) points (None for a gap) on a y axis from 0 to a round number above the
highest value, with three grid lines, a legend and the x axis's ends labelled. Every text is escaped here, so the
markup can go into a page as it is. Pure: numbers in, a string out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Point = tuple[float, float | None]
PALETTE = ("#1f5f99", "#d35400", "#27ae60", "#8e44ad")
WIDTH, HEIGHT = 360, 150
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 22, 22


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[Point]
    dashed: bool = False
    markers: bool = False
    labels: Sequence[str] = ()  # a text beside each point (e.g. a bench level), in the order of ``points``


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^n at or above ``value`` (an axis that ends on a round number)."""
    if value <= 0 or math.isnan(value) or math.isinf(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power


def number(value: float) -> str:
    """An axis label: 1.2k, 850, 2.5, 0.04."""
    if abs(value) >= 10_000:
        return f"{value / 1000:,.0f}k"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    if value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}" if abs(value) < 1 else f"{value:.1f}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    unit: str = "",
    x_range: tuple[float, float] | None = None,
    x_label: Callable[[float], str] = number,
    x_title: str = "",
    y_max: float | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """One chart; ``x_range`` fixes the x axis (a time window), else it spans the points."""
    xs = [x for s in series for x, y in s.points if y is not None]
    ys = [y for s in series for _, y in s.points if y is not None]
    x0, x1 = x_range if x_range is not None else ((min(xs), max(xs)) if xs else (0.0, 1.0))
    if x1 <= x0:
        x0, x1 = x0 - 1, x1 + 1
    step = nice_ceiling((y_max if y_max is not None else max(ys, default=0.0)) / 3)
    ticks = max(1, math.ceil((y_max if y_max is not None else max(ys, default=0.0)) / step - 1e-9))
    top = step * ticks
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - min(max(y, 0.0), top) / top * plot_h

    heading = f"{title} ({unit})" if unit else title
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(heading)}">',
        f'<text class="chart-title" x="{LEFT}" y="12">{escape(heading)}</text>',
    ]
    for i in range(ticks + 1):  # a grid line at every round step up to the top
        value = step * i
        y = py(value)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{number(value)}</text>')
    base = height - BOTTOM + 14
    parts.append(f'<text class="axis" x="{LEFT}" y="{base}">{escape(x_label(x0))}</text>')
    parts.append(f'<text class="axis" x="{width - RIGHT}" y="{base}" text-anchor="end">{escape(x_label(x1))}</text>')
    if x_title:
        parts.append(
            f'<text class="axis" x="{LEFT + plot_w / 2:.1f}" y="{base}" text-anchor="middle">{escape(x_title)}</text>'
        )
    legend_x = width - RIGHT
    for index, s in reversed(list(enumerate(series))):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<text class="legend" x="{legend_x}" y="12" text-anchor="end" fill="{colour}">{escape(s.label)}</text>'
        )
        legend_x -= 8 + 6 * len(s.label)
    for index, s in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        dash = ' stroke-dasharray="4 3"' if s.dashed else ""
        for run in _runs(s.points):
            if len(run) > 1:
                path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
                parts.append(f'<polyline class="line" points="{path}" stroke="{colour}"{dash}/>')
        drawn = [(x, y) for x, y in s.points if y is not None]
        lone = {p for run in _runs(s.points) if len(run) == 1 for p in run}
        for (x, maybe_y), text in zip(s.points, [*s.labels, *[""] * len(s.points)], strict=False):
            if maybe_y is None:
                continue
            y = maybe_y
            if s.markers or (x, y) in lone:
                parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{colour}"/>')
            if text:  # beside the point, on its left near the right edge
                right = px(x) > width - RIGHT - 40
                anchor = ' text-anchor="end"' if right else ""
                at = px(x) - 5 if right else px(x) + 5
                parts.append(
                    f'<text class="point-label" x="{at:.1f}" y="{py(y) + 12:.1f}"{anchor}>{escape(text)}</text>'
                )
        if not drawn and index == 0 and not ys:
            parts.append(
                f'<text class="empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" '
                'text-anchor="middle">no data yet</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _runs(points: Sequence[Point]) -> list[list[tuple[float, float]]]:
    """The points split at gaps (None), each run drawn as one line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]


def ago(seconds: float) -> str:
    """An x label of a time window ending now: -300 -> '5 min ago', 0 -> 'now'."""
    if seconds >= 0:
        return "now"
    return f"{-seconds / 60:.0f} min ago" if seconds <= -120 else f"{-seconds:.0f} s ago"


__all__ = ["PALETTE", "Series", "ago", "line_chart", "nice_ceiling", "number"]
