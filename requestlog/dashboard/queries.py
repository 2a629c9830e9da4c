"""The dashboard's database reads: filtered request lists and keyset pages.

Every list is read newest first along the `started_at` index with a LIMIT, and
loads only the columns a table shows (bodies stay in the database). Nothing
counts the whole table: a page knows whether there is an older page by asking
for one row more than it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from requestlog import stats
from requestlog.models import Outcome, RequestLog

PAGE_SIZE = 50
#: A search with no start time reads only this many of the newest requests: bodies
#: are searched with LIKE (no full-text index), so each row searched costs its body.
SEARCH_WINDOW_ROWS = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: The columns the request table shows (and the live feed sends).
LIST_FIELDS = (
    "id",
    "request_id",
    "started_at",
    "status",
    "outcome",
    "requested_model",
    "target_model",
    "provider",
    "account",
    "route",
    "subagent",
    "stream",
    "latency_ms",
    "ttfb_ms",
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cost_usd",
    "conversation_key",
    "error_type",
    "error_message",
    "tool_calls",
)

ROUTES = ("explicit", "subagent", "rule", "alias", "default", "sticky", "passthrough")
STATUS_CLASSES = ("2xx", "4xx", "5xx")
DATETIME_INPUTS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


_COMMON_STATUSES = ("400", "401", "403", "404", "408", "413", "429", "500", "502", "503", "529")
STATUS_CHOICES = [
    ("", "any status"),
    ("2xx", "2xx"),
    ("4xx", "4xx"),
    ("5xx", "5xx"),
    *((code, code) for code in _COMMON_STATUSES),
]


def _text(placeholder: str, datalist: str = "", **attrs: str) -> forms.TextInput:
    attrs = {"placeholder": placeholder, **attrs}
    if datalist:
        attrs["list"] = datalist
    return forms.TextInput(attrs=attrs)


def _when() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class RequestFilterForm(forms.Form):
    """The request list's GET filters; an invalid field is reported and ignored."""

    q = forms.CharField(
        required=False, max_length=200, widget=_text("Search prompts and answers", type="search")
    )
    model = forms.CharField(required=False, max_length=200, widget=_text("model", "model-options"))
    provider = forms.CharField(
        required=False, max_length=64, widget=_text("provider", "provider-options")
    )
    subagent = forms.CharField(
        required=False, max_length=200, widget=_text("subagent", "subagent-options")
    )
    route = forms.ChoiceField(
        required=False, choices=[("", "any route")] + [(r, r) for r in ROUTES]
    )
    status = forms.RegexField(
        required=False,
        regex=r"^([1-5]xx|[1-5][0-9][0-9])$",
        max_length=3,
        widget=forms.Select(choices=STATUS_CHOICES),
    )
    stream = forms.ChoiceField(
        required=False, choices=[("", "stream or not"), ("1", "streamed"), ("0", "not streamed")]
    )
    error = forms.ChoiceField(
        required=False, choices=[("", "all outcomes"), ("1", "errors only"), ("0", "no errors")]
    )
    conversation = forms.CharField(required=False, max_length=100, widget=_text("conversation key"))
    since = forms.DateTimeField(required=False, input_formats=DATETIME_INPUTS, widget=_when())
    until = forms.DateTimeField(required=False, input_formats=DATETIME_INPUTS, widget=_when())
    before = forms.RegexField(
        required=False, regex=r"^\d{1,20}-\d{1,20}$", max_length=41, widget=forms.HiddenInput
    )

    #: Filters a new row can be matched against in the browser (requests.js).
    LIVE_FIELDS = ("provider", "model", "subagent", "route", "status", "stream", "error")

    def filters(self) -> dict[str, Any]:
        """The valid, non-empty filter values."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            name: value
            for name, value in data.items()
            if value not in (None, "") and name not in self.errors
        }


def has_error_q() -> Q:
    return ~Q(outcome=Outcome.COMPLETED)


def filter_requests(qs: QuerySet, filters: dict[str, Any]) -> QuerySet:
    """Apply the request list's filters (as cleaned by RequestFilterForm) to `qs`."""
    if value := filters.get("provider"):
        qs = qs.filter(provider=value)
    if value := filters.get("model"):
        qs = qs.filter(Q(requested_model=value) | Q(target_model=value))
    if value := filters.get("subagent"):
        qs = qs.filter(subagent=value)
    if value := filters.get("route"):
        qs = qs.filter(route=value)
    if value := filters.get("status"):
        if value.endswith("xx"):
            low = int(value[0]) * 100
            qs = qs.filter(status__gte=low, status__lt=low + 100)
        else:
            qs = qs.filter(status=int(value))
    if value := filters.get("stream"):
        qs = qs.filter(stream=value == "1")
    if value := filters.get("error"):
        qs = qs.filter(has_error_q()) if value == "1" else qs.exclude(has_error_q())
    if value := filters.get("conversation"):
        qs = qs.filter(conversation_key=value)
    if value := filters.get("q"):
        qs = qs.filter(
            Q(request_body__icontains=value)
            | Q(response_body__icontains=value)
            | Q(request_id=value)
            | Q(error_message__icontains=value)
        )
    if value := filters.get("since"):
        qs = qs.filter(started_at__gte=value)
    if value := filters.get("until"):
        qs = qs.filter(started_at__lt=value)
    return qs


# --- keyset pagination --------------------------------------------------------
def cursor_for(started_at: datetime, row_id: int) -> str:
    """An opaque "older than this row" cursor: microseconds since the epoch and the id."""
    micros = (started_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{row_id}"


def parse_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        micros, row_id = (int(part) for part in cursor.split("-", 1))
        return EPOCH + timedelta(microseconds=micros), row_id
    except (ValueError, OverflowError):
        return None


def before_cursor(qs: QuerySet, cursor: str) -> QuerySet:
    parsed = parse_cursor(cursor)
    if parsed is None:
        return qs
    started_at, row_id = parsed
    # `started_at <= t` first, so the index range starts at the cursor.
    return qs.filter(started_at__lte=started_at).filter(
        Q(started_at__lt=started_at) | Q(id__lt=row_id)
    )


@dataclass
class Page:
    rows: list[dict[str, Any]]
    older: str | None  # cursor of the next (older) page, if there is one
    search_from: datetime | None = None  # where a search without a start time stopped


def search_window_start(rows: int | None = None) -> datetime | None:
    """The start time of the newest `rows` requests (None when there are fewer)."""
    rows = rows or SEARCH_WINDOW_ROWS
    newest = RequestLog.objects.order_by("-started_at").values_list("started_at", flat=True)
    found = list(newest[rows - 1 : rows])
    return found[0] if found else None


def request_page(filters: dict[str, Any], size: int = PAGE_SIZE) -> Page:
    """One page of the request list, newest first, as dicts of LIST_FIELDS."""
    qs = filter_requests(RequestLog.objects.all(), filters)
    search_from = None
    if filters.get("q") and not filters.get("since"):
        search_from = search_window_start()
        if search_from is not None:
            qs = qs.filter(started_at__gte=search_from)
    if cursor := filters.get("before"):
        qs = before_cursor(qs, cursor)
    rows = list(qs.order_by("-started_at", "-id").values(*LIST_FIELDS)[: size + 1])
    older = None
    if len(rows) > size:
        rows = rows[:size]
        older = cursor_for(rows[-1]["started_at"], rows[-1]["id"])
    return Page(rows=rows, older=older, search_from=search_from)


def recent_values(limit: int = 500) -> dict[str, list[str]]:
    """Providers, models and subagents seen in the newest rows, for the filter suggestions.

    Read from the newest `limit` rows, not with DISTINCT over the table.
    """
    seen: dict[str, set[str]] = {"provider": set(), "model": set(), "subagent": set()}
    newest = RequestLog.objects.order_by("-started_at").values_list(
        "provider", "requested_model", "target_model", "subagent"
    )[:limit]
    for provider, requested, target, subagent in newest:
        seen["provider"].add(provider)
        seen["model"].update((requested, target))
        seen["subagent"].add(subagent)
    return {name: sorted(v for v in values if v) for name, values in seen.items()}


# --- usage breakdowns ---------------------------------------------------------------
#: The dimensions the usage page breaks totals down by (as in requestlog.stats).
USAGE_DIMENSIONS = ("provider", "model", "subagent", "route")


Grouped = stats.Sums


def usage_by_dimension(since: datetime, until: datetime, bucket: str) -> dict[str, Grouped]:
    """Counts per (bucket, value) for each of USAGE_DIMENSIONS.

    Four GROUP BY queries over the hourly rollup (a few thousand rows for a
    month), not over the log.
    """
    return {
        name: stats.aggregate_series(None, bucket, name, since=since, until=until)  # type: ignore[arg-type]
        for name in USAGE_DIMENSIONS
    }


@dataclass
class Usage:
    """What the usage page shows for one window (shaped like `stats.Stats`)."""

    series: list[stats.Point]
    totals: stats.Counts
    latency_ms: stats.Percentiles
    ttfb_ms: stats.Percentiles
    grouped: dict[str, Grouped] = field(default_factory=dict)


def usage(since: datetime, until: datetime, bucket: str) -> Usage:
    """Series, totals, percentiles and breakdowns for [since, until).

    The series and totals are sums of the by-dimension counts; the
    percentiles of the whole window are exact (`stats.window_percentiles`).
    """
    grouped = usage_by_dimension(since, until, bucket)
    by_start: dict[datetime, stats.Counts] = {}
    for (start, _), counts in grouped[USAGE_DIMENSIONS[0]].items():
        by_start.setdefault(start, stats.Counts()).add(counts)
    series = [
        stats.Point(start=start, counts=by_start.get(start) or stats.Counts())
        for start in stats.bucket_starts(since, until, bucket)  # type: ignore[arg-type]
    ]
    totals = stats.Counts()
    for point in series:
        totals.add(point.counts)
    return Usage(
        series=series,
        totals=totals,
        latency_ms=stats.window_percentiles("latency_ms", since, until, count=totals.requests),
        ttfb_ms=stats.window_percentiles("ttfb_ms", since, until, count=totals.ttfb_count),
        grouped=grouped,
    )
