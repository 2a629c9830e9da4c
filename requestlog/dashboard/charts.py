"""Chart geometry for inline SVG, computed on the server.

`bar_chart` (stacked bars) and `line_chart` return plain dicts of
coordinates that `templates/dashboard/_bar_chart.html` and `_line_chart.html`
draw; no chart library and no script. Labels stay plain text (escaped by
the template).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

WIDTH = 800
HEIGHT = 220
LEFT = 56  # room for y-axis labels
RIGHT = 8
TOP = 10
BOTTOM = 26  # room for x-axis labels
MAX_X_LABELS = 10

PALETTE = (
    "#3b6fd8",
    "#e0843a",
    "#2f9e72",
    "#9a5bd1",
    "#d3455b",
    "#2aa3b8",
    "#b8a22a",
    "#7a8594",
)


BLUE, RED, GREY = PALETTE[0], PALETTE[4], PALETTE[7]


def colour(index: int, colours: Sequence[str] = PALETTE) -> str:
    return colours[index % len(colours)]


def nice_step(value: float, integer: bool = False) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (1 at least
    for whole-number measures, which never get a 2.5 step)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(s * power for s in steps if s * power >= value)
    return max(1.0, step) if integer else step


def axis(top_value: float, integer: bool, ticks: int = 4) -> tuple[float, float]:
    """The axis maximum and tick step for data up to `top_value`."""
    step = nice_step(top_value / ticks, integer)
    return step * max(1, math.ceil(top_value / step - 1e-9)), step


def _ticks(
    top: float, step: float, fmt: Callable[[float], str], plot_h: float
) -> list[dict[str, Any]]:
    count = round(top / step)
    return [
        {"y": round(TOP + plot_h - plot_h * i / count, 1), "label": fmt(step * i)}
        for i in range(count + 1)
    ]


def _x_labels(labels: Sequence[str], x_of: Callable[[int], float]) -> list[dict[str, Any]]:
    step = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    return [{"x": round(x_of(i), 1), "label": labels[i]} for i in range(0, len(labels), step)]


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    height: int = HEIGHT,
    integer: bool = True,
    colours: Sequence[str] = PALETTE,
) -> dict[str, Any]:
    """Stacked bars: one bar per label, one segment per series.

    `integer` says the values are whole numbers (counts, tokens), so the axis
    has no fractional ticks.
    """
    totals = [sum(values[i] or 0 for _, values in series) for i in range(len(labels))]
    if not labels or not any(totals):
        return {"empty": True, "width": WIDTH, "height": height}
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = height - TOP - BOTTOM
    top, step = axis(max(totals), integer)
    slot = plot_w / len(labels)
    bar_w = max(1.0, slot * 0.72)
    bars = []
    for i, label in enumerate(labels):
        base = 0.0
        x = LEFT + i * slot + (slot - bar_w) / 2
        for index, (name, values) in enumerate(series):
            value = values[i] or 0
            if value <= 0:
                continue
            h = plot_h * value / top
            y = TOP + plot_h - plot_h * base / top - h
            bars.append(
                {
                    "x": round(x, 2),
                    "y": round(y, 2),
                    "w": round(bar_w, 2),
                    "h": round(max(h, 0.5), 2),
                    "fill": colour(index, colours),
                    "title": f"{label} · {name}: {fmt(value)}",
                }
            )
            base += value
    return {
        "empty": False,
        "width": WIDTH,
        "height": height,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": TOP + plot_h,
        "ticks": _ticks(top, step, fmt, plot_h),
        "x_labels": _x_labels(labels, lambda i: LEFT + i * slot + slot / 2),
        "label_y": height - 8,
        "bars": bars,
        "legend": [{"name": name, "fill": colour(i, colours)} for i, (name, _) in enumerate(series)]
        if len(series) > 1
        else [],
    }


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    height: int = HEIGHT,
    integer: bool = True,
) -> dict[str, Any]:
    """Lines with a dot per value; a missing value (None) breaks the line."""
    values = [v for _, vs in series for v in vs if v is not None]
    if not labels or not values or not any(values):
        return {"empty": True, "width": WIDTH, "height": height}
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = height - TOP - BOTTOM
    top, step = axis(max(values), integer)
    slot = plot_w / len(labels)

    def x_of(i: int) -> float:
        return LEFT + i * slot + slot / 2

    lines = []
    for index, (name, vs) in enumerate(series):
        segments: list[list[str]] = [[]]
        dots = []
        for i, value in enumerate(vs):
            if value is None:
                segments.append([])
                continue
            x, y = round(x_of(i), 2), round(TOP + plot_h - plot_h * value / top, 2)
            segments[-1].append(f"{x},{y}")
            dots.append({"x": x, "y": y, "title": f"{labels[i]} · {name}: {fmt(value)}"})
        lines.append(
            {
                "name": name,
                "stroke": colour(index),
                "segments": [" ".join(points) for points in segments if len(points) > 1],
                "dots": dots,
            }
        )
    return {
        "empty": False,
        "width": WIDTH,
        "height": height,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": TOP + plot_h,
        "ticks": _ticks(top, step, fmt, plot_h),
        "x_labels": _x_labels(labels, x_of),
        "label_y": height - 8,
        "lines": lines,
        "legend": [{"name": line["name"], "fill": line["stroke"]} for line in lines],
    }
