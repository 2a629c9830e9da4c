"""Latency histograms: their bins, and percentiles read from them.

The exact percentiles of the whole log over a window are cheap on a million
rows (`stats.window_percentiles` walks an index), but a chart needs them for
each of 24 to 90 buckets, and a window narrowed to one provider or model has
no index to walk. Those come from histograms that database triggers keep per
UTC hour and day (`rollup_sql`; read by `stats`): bin b counts values from
2^(b/8) - 1 to 2^((b+1)/8) - 1 ms, so a percentile read from one is within
a bin (9%) of the exact one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from requestlog.rollup_sql import BINS_PER_OCTAVE

#: The percentiles reported for latency and time to first byte.
DEFAULT_QUANTILES = (0.5, 0.95, 0.99)
#: Decimal places kept in percentiles (ms): hides float noise that differs by database.
PERCENTILE_DIGITS = 3


@dataclass
class Percentiles:
    """Values by quantile (0.5 -> p50); None when there are no values."""

    values: dict[float, float | None]

    def __getitem__(self, quantile: float) -> float | None:
        return self.values[quantile]

    def as_dict(self) -> dict[str, float | None]:
        return {f"p{quantile * 100:g}": value for quantile, value in self.values.items()}


def bin_of(latency_ms: float) -> int:
    """The bin a latency falls in: the triggers' SQL (`rollup_sql.bin_sql`) in Python."""
    return math.floor(BINS_PER_OCTAVE * math.log(latency_ms + 1.0) / math.log(2.0))


def add_counts(into: dict[int, int], more: dict) -> None:
    """Add histogram `more` ({bin: count}, bins as int or str, as JSON has them) to `into`."""
    for index, count in more.items():
        index = int(index)
        into[index] = into.get(index, 0) + count


def bin_bounds(index: int) -> tuple[float, float]:
    """The latencies (ms) a bin runs from and to."""
    return 2 ** (index / BINS_PER_OCTAVE) - 1, 2 ** ((index + 1) / BINS_PER_OCTAVE) - 1


def histogram_percentiles(
    counts: dict[int, int], quantiles: Sequence[float] = DEFAULT_QUANTILES
) -> Percentiles:
    """Percentiles of the latencies a histogram ({bin: count}) counts.

    As PostgreSQL's percentile_cont does, interpolated between the values at
    the ranks either side of q * (n - 1); a bin's values are taken to be
    spread evenly across it.
    """
    bins = sorted((index, count) for index, count in counts.items() if count > 0)
    total = sum(count for _, count in bins)

    def value_at(rank: int) -> float:
        below = 0
        for index, count in bins:
            if rank < below + count:
                low, high = bin_bounds(index)
                return low + (high - low) * (rank - below + 0.5) / count
            below += count
        raise IndexError(rank)

    values: dict[float, float | None] = {}
    for quantile in quantiles:
        if not total:
            values[quantile] = None
            continue
        position = quantile * (total - 1)
        low_rank = math.floor(position)
        low = value_at(low_rank)
        high = value_at(min(low_rank + 1, total - 1))
        values[quantile] = round(low + (high - low) * (position - low_rank), PERCENTILE_DIGITS)
    return Percentiles(values)
