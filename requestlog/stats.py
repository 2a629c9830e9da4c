"""Usage statistics of the request log, computed in the database.

The API (`/api/stats/`) and the dashboard call `compute_stats()`; its parts
are public too:

- `aggregate_series(rows, bucket, group_by, since=, until=)`: one GROUP BY
  query giving, per time bucket (and group), requests, errors, tokens and
  cost. Totals are the sums of its points, so the log is read once for all.
  The database groups by UTC hour (`HourBucket`, indexed with the summed
  columns by `log_hour_stats`) and days are summed here.
- `window_percentiles(field, since, until)`: p50/p95/p99 of latency or time to
  first byte over a whole time window; `percentiles(rows, field)` over any
  rows. Both interpolate linearly, like PostgreSQL's `percentile_cont`, which
  computes them there. SQLite has none, so each percentile is read with
  ORDER BY + LIMIT 2 OFFSET k from the nearer end, never loading rows.

On SQLite these stay fast at a million rows only with the indexes of
migration 0005 and fresh planner statistics (ANALYZE, which `prunelogs` and
`seedlogs` run). An error is a request whose outcome is a client, upstream or
gateway error (`ERROR_OUTCOMES`); a request the client cancelled counts as
`cancelled`, not as an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db import OperationalError, connections
from django.db.models import (
    Count,
    DateTimeField,
    DecimalField,
    F,
    Func,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, NullIf

from requestlog.models import HourBucket, Outcome, RequestLog

Bucket = Literal["hour", "day"]
BUCKETS: tuple[Bucket, ...] = ("hour", "day")
BUCKET_STEP: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
#: Dimensions a breakdown can be grouped by, and the expression for each.
GROUP_BY_CHOICES = ("provider", "model", "subagent", "route")
#: Outcomes counted as errors (a client's cancellation is not one).
ERROR_OUTCOMES = (Outcome.CLIENT_ERROR, Outcome.UPSTREAM_ERROR, Outcome.GATEWAY_ERROR)
#: The percentiles reported for latency and time to first byte.
DEFAULT_QUANTILES = (0.5, 0.95, 0.99)
#: Decimal places kept in percentiles (ms): hides float noise that differs by database.
PERCENTILE_DIGITS = 3
#: The most buckets one series may have (about 93 days of hours).
MAX_BUCKETS = 24 * 93
#: The (value, started_at) index `window_percentiles` walks for each column.
PERCENTILE_INDEXES = {"latency_ms": "log_latency_time", "ttfb_ms": "log_ttfb_time"}
#: Sums of cost over many rows need more digits than one row's cost_usd.
COST_SUM_FIELD = DecimalField(max_digits=24, decimal_places=8)


class Unindexed(Func):
    """A datetime column SQLite must not choose an index for (its unary-plus idiom).

    A window filter on `started_at` tempts SQLite's planner to read the window
    through the narrow started_at index and then every table row; filtering
    `+started_at` instead leaves it the hour-range of the covering stats index.
    """

    output_field = DateTimeField()

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"+{sql}", params

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])


def hour_bucket() -> HourBucket:
    """The UTC start of each row's hour; the same expression as the `log_hour_stats` index."""
    return HourBucket("started_at")


def group_expression(group_by: str) -> Any:
    """The value a row is grouped under; "model" is the served model, else the requested one."""
    if group_by == "model":
        return Coalesce(NullIf(F("target_model"), Value("")), F("requested_model"))
    if group_by in GROUP_BY_CHOICES:
        return F(group_by)
    raise ValueError(f"group_by must be one of {', '.join(GROUP_BY_CHOICES)}")


def bucket_start(moment: datetime, bucket: Bucket) -> datetime:
    """The start of the UTC bucket that holds `moment`."""
    moment = moment.astimezone(UTC)
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def bucket_starts(since: datetime, until: datetime, bucket: Bucket) -> list[datetime]:
    """Every bucket start from the one holding `since` to the one before `until`."""
    step = BUCKET_STEP[bucket]
    start = bucket_start(since, bucket)
    starts = []
    while start < until:
        starts.append(start)
        start += step
    return starts


@dataclass
class Counts:
    """Sums over a set of log rows."""

    requests: int = 0
    errors: int = 0
    cancelled: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    #: Rows with a time to first byte (its percentiles' population).
    ttfb_count: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def add(self, other: Counts) -> None:
        for name in _COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Counts:
        """From a row of `count_aggregates()` (sums over no rows are NULL)."""
        cost = row["cost_usd"]
        return cls(
            requests=row["requests"],
            errors=row["errors"],
            cancelled=row["cancelled"],
            input_tokens=row["input_tokens"] or 0,
            output_tokens=row["output_tokens"] or 0,
            cache_read_input_tokens=row["cache_read_input_tokens"] or 0,
            cache_creation_input_tokens=row["cache_creation_input_tokens"] or 0,
            # Already rounded to COST_SUM_FIELD's 8 places by the field's converter.
            cost_usd=Decimal(0) if cost is None else cost,
            ttfb_count=row["ttfb_count"],
        )


_COUNT_FIELDS = tuple(f.name for f in fields(Counts))


def count_aggregates() -> dict[str, Any]:
    """The aggregate expressions behind `Counts`, for `.annotate()` or `.aggregate()`."""
    return {
        "requests": Count("id"),
        "errors": Count("id", filter=Q(outcome__in=ERROR_OUTCOMES)),
        "cancelled": Count("id", filter=Q(outcome=Outcome.CANCELLED)),
        "input_tokens": Sum("input_tokens"),
        "output_tokens": Sum("output_tokens"),
        "cache_read_input_tokens": Sum("cache_read_input_tokens"),
        "cache_creation_input_tokens": Sum("cache_creation_input_tokens"),
        "cost_usd": Sum("cost_usd", output_field=COST_SUM_FIELD),
        "ttfb_count": Count("ttfb_ms"),
    }


@dataclass
class Point:
    """One bucket of a series."""

    start: datetime
    counts: Counts


@dataclass
class Group:
    """One value of the group_by dimension, with its totals and aligned series."""

    key: str
    totals: Counts
    series: list[Point]


@dataclass
class Percentiles:
    """Values by quantile (0.5 -> p50); None when there are no values."""

    values: dict[float, float | None]

    def __getitem__(self, quantile: float) -> float | None:
        return self.values[quantile]

    def as_dict(self) -> dict[str, float | None]:
        return {f"p{quantile * 100:g}": value for quantile, value in self.values.items()}


@dataclass
class Stats:
    since: datetime
    until: datetime
    bucket: Bucket
    group_by: str | None
    totals: Counts
    latency_ms: Percentiles
    ttfb_ms: Percentiles
    series: list[Point]
    groups: list[Group] = field(default_factory=list)


def in_window(rows: QuerySet[RequestLog], since: datetime, until: datetime) -> QuerySet:
    """Rows started in [since, until)."""
    return rows.filter(started_at__gte=since, started_at__lt=until)


def aggregate_series(
    rows: QuerySet[RequestLog],
    bucket: Bucket,
    group_by: str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[tuple[datetime, str | None], Counts]:
    """Counts per (bucket start, group) of `rows` for the non-empty buckets, in one query.

    With `since` and/or `until`, only rows started in [since, until) count:
    pass the time range this way rather than filtering `rows` by it. The rows
    are then read along the `log_hour_stats` index, from the window's first
    hour to its last, and from that index alone. The database sums by hour
    (streaming along the index for no group, provider or model; sorting the
    index entries for subagent and route) and days are summed here.
    """
    hour = hour_bucket()
    if group_by == "model":
        # Grouped in the index's column order so the sums stream, then folded
        # into "served model, else requested model" here.
        keys: dict[str, Any] = {
            "hour_start": hour,
            "group_provider": F("provider"),
            "group_target": F("target_model"),
            "group_requested": F("requested_model"),
        }
    else:
        keys = {"hour_start": hour}
        if group_by:
            keys["group_key"] = group_expression(group_by)
    rows = rows.order_by().alias(hour_key=hour, started=Unindexed("started_at"))
    if since is not None:
        rows = rows.filter(hour_key__gte=bucket_start(since, "hour"), started__gte=since)
    if until is not None:
        rows = rows.filter(hour_key__lte=bucket_start(until, "hour"), started__lt=until)
    query = rows.annotate(**keys).values(*keys).annotate(**count_aggregates())
    result: dict[tuple[datetime, str | None], Counts] = {}
    for row in query:
        start = bucket_start(row["hour_start"], bucket)
        if group_by == "model":
            group = row["group_target"] or row["group_requested"]
        else:
            group = row.get("group_key")
        counts = Counts.from_row(row)
        key = (start, group)
        if key in result:
            result[key].add(counts)
        else:
            result[key] = counts
    return result


def percentiles(
    rows: QuerySet[RequestLog],
    field_name: str,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    *,
    count: int | None = None,
) -> Percentiles:
    """Percentiles of a numeric column over any `rows`, ignoring nulls, interpolated linearly.

    `count` (the number of non-null values) saves a COUNT query when the
    caller knows it already. For all rows of a time window, `window_percentiles`
    is much faster on SQLite.
    """
    values = rows.order_by().filter(**{f"{field_name}__isnull": False})
    if connections[rows.db].vendor == "postgresql":
        return _postgres_percentiles(values, field_name, quantiles)
    if count is None:
        count = values.count()
    column = values.values_list(field_name, flat=True)

    def read_pair(offset: int, descending: bool) -> list[float]:
        ordered = column.order_by(f"-{field_name}" if descending else field_name)
        return list(ordered[offset : offset + 2])

    return Percentiles({q: _offset_percentile(read_pair, q, count) for q in quantiles})


def window_percentiles(
    field_name: str,
    since: datetime,
    until: datetime,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    *,
    count: int | None = None,
    using: str = "default",
) -> Percentiles:
    """Percentiles of `latency_ms` or `ttfb_ms` over every row started in [since, until).

    On SQLite each value is read by walking the (value, started_at) index from
    the nearer end and skipping rows outside the window (SQLite skip-scans it
    once ANALYZE has run): a few ms per percentile whatever the window, where
    letting the planner choose sorts the whole window. Without the index (a
    database not migrated yet) it falls back to `percentiles()`.
    """
    index = PERCENTILE_INDEXES[field_name]
    rows = in_window(RequestLog.objects.using(using).all(), since, until)
    connection = connections[using]
    if connection.vendor != "sqlite":
        return percentiles(rows, field_name, quantiles, count=count)
    if count is None:
        count = rows.filter(**{f"{field_name}__isnull": False}).count()
    quote = connection.ops.quote_name
    column = quote(field_name)
    sql = (
        f"SELECT {column} FROM {quote(RequestLog._meta.db_table)} INDEXED BY {quote(index)} "
        f"WHERE {quote('started_at')} >= %s AND {quote('started_at')} < %s "
        f"AND {column} IS NOT NULL ORDER BY {column} {{direction}} LIMIT 2 OFFSET %s"
    )
    bounds = [
        connection.ops.adapt_datetimefield_value(since),
        connection.ops.adapt_datetimefield_value(until),
    ]

    def read_pair(offset: int, descending: bool) -> list[float]:
        with connection.cursor() as cursor:
            cursor.execute(sql.format(direction="DESC" if descending else "ASC"), [*bounds, offset])
            return [row[0] for row in cursor.fetchall()]

    try:
        return Percentiles({q: _offset_percentile(read_pair, q, count) for q in quantiles})
    except OperationalError as exc:
        if "no such index" not in str(exc):
            raise
        return percentiles(rows, field_name, quantiles, count=count)


def _postgres_percentiles(
    values: QuerySet[RequestLog], field_name: str, quantiles: Sequence[float]
) -> Percentiles:
    connection = connections[values.db]
    column = connection.ops.quote_name(field_name)
    inner_sql, inner_params = values.values(field_name).query.sql_with_params()
    sql = (
        f"SELECT percentile_cont(%s::double precision[]) WITHIN GROUP (ORDER BY sub.{column}) "
        f"FROM ({inner_sql}) AS sub"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(quantiles), *inner_params])
        (result,) = cursor.fetchone()
    found = (
        [None] * len(quantiles)
        if result is None
        else [round(float(v), PERCENTILE_DIGITS) for v in result]
    )
    return Percentiles(dict(zip(quantiles, found, strict=True)))


def _offset_percentile(
    read_pair: Callable[[int, bool], list[float]], quantile: float, count: int
) -> float | None:
    """percentile_cont from the two values around its position, read from the nearer end.

    `read_pair(offset, descending)` returns the (up to) two values at `offset`
    in ascending or descending order.
    """
    if count == 0:
        return None
    position = quantile * (count - 1)
    low = math.floor(position)
    high = min(low + 1, count - 1)
    if low < count / 2:
        pair = read_pair(low, False)
        low_value, high_value = pair[0], pair[-1] if high > low else pair[0]
    else:
        pair = read_pair(count - 1 - high, True)
        high_value, low_value = pair[0], pair[-1] if high > low else pair[0]
    return round(float(low_value + (high_value - low_value) * (position - low)), PERCENTILE_DIGITS)


def compute_stats(
    rows: QuerySet[RequestLog] | None = None,
    *,
    since: datetime,
    until: datetime,
    bucket: Bucket = "hour",
    group_by: str | None = None,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> Stats:
    """Totals, a zero-filled series, percentiles and an optional breakdown for [since, until).

    `rows` narrows the log first (e.g. a filtered queryset); default all rows.
    Raises ValueError for an unknown bucket or group_by, or too many buckets.
    """
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
    starts = bucket_starts(since, until, bucket)
    if len(starts) > MAX_BUCKETS:
        raise ValueError(f"at most {MAX_BUCKETS} buckets; use a shorter range or bucket=day")
    if group_by is not None:
        group_expression(group_by)  # validates
    rows = RequestLog.objects.all() if rows is None else rows
    whole_window = not rows.query.where  # no filter but the time range
    window = in_window(rows, since, until)

    def read_percentiles(field_name: str, count: int) -> Percentiles:
        if whole_window:
            return window_percentiles(
                field_name, since, until, quantiles, count=count, using=rows.db
            )
        return percentiles(window, field_name, quantiles, count=count)

    by_key = aggregate_series(rows, bucket, group_by, since=since, until=until)
    series = _fill(starts, _merge_groups(by_key))
    totals = _sum(point.counts for point in series)
    groups = []
    if group_by:
        for key in sorted({key for _, key in by_key}, key=lambda k: (k is None, k or "")):
            group_series = _fill(starts, {s: c for (s, k), c in by_key.items() if k == key})
            groups.append(
                Group(
                    key=key or "",
                    totals=_sum(point.counts for point in group_series),
                    series=group_series,
                )
            )
        groups.sort(key=lambda group: -group.totals.requests)

    return Stats(
        since=since,
        until=until,
        bucket=bucket,
        group_by=group_by,
        totals=totals,
        latency_ms=read_percentiles("latency_ms", totals.requests),
        ttfb_ms=read_percentiles("ttfb_ms", totals.ttfb_count),
        series=series,
        groups=groups,
    )


def _merge_groups(
    by_key: dict[tuple[datetime, str | None], Counts],
) -> dict[datetime, Counts]:
    merged: dict[datetime, Counts] = {}
    for (start, _), counts in by_key.items():
        merged.setdefault(start, Counts()).add(counts)
    return merged


def _fill(starts: list[datetime], by_start: dict[datetime, Counts]) -> list[Point]:
    return [Point(start=start, counts=by_start.get(start) or Counts()) for start in starts]


def _sum(counts: Iterable[Counts]) -> Counts:
    total = Counts()
    for item in counts:
        total.add(item)
    return total
