"""Percentiles of latency samples (nearest-rank, in milliseconds)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p95: float
    p99: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return {
            "p50": round(self.p50, 3),
            "p95": round(self.p95, 3),
            "p99": round(self.p99, 3),
            "max": round(self.max, 3),
        }


def percentile(ordered: Sequence[float], pct: float) -> float:
    """The nearest-rank `pct` percentile of already sorted samples (0.0 for none)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(samples: Sequence[float]) -> Percentiles | None:
    """p50/p95/p99/max of `samples`, or None when there are none."""
    if not samples:
        return None
    ordered = sorted(samples)
    return Percentiles(
        p50=percentile(ordered, 50),
        p95=percentile(ordered, 95),
        p99=percentile(ordered, 99),
        max=ordered[-1],
    )
