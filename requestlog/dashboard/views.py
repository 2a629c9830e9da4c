"""The dashboard pages: requests (live), one request, conversations, usage.

For staff holding `requestlog.view_requestlog` (the "log reader" group has
it), as the admin asks for request logs: anonymous visitors are sent to the
admin login, anyone else signed in gets 403. Pages are server-rendered; the request
list's only script (static/js/requests.js) prepends rows pushed over
`/ws/requests/`. Statistics come from `requestlog.stats`, conversations from
`requestlog.conversations`; the list queries are in `queries.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from requestlog import conversations as convo
from requestlog import stats
from requestlog.dashboard import charts, queries
from requestlog.dashboard import render as show
from requestlog.dashboard.display import (
    fmt_cost,
    fmt_duration,
    fmt_int,
    fmt_list,
    fmt_ms,
    fmt_time,
    fmt_tokens_short,
    row_view,
    status_class,
)
from requestlog.models import RequestLog

View = Callable[..., HttpResponse]

#: Admin pages linked from the navigation: (label, app label, model name); each is
#: shown to users the admin lets see that model (view or change permission).
ADMIN_LINKS = (
    ("Providers", "routing", "provider"),
    ("Aliases", "routing", "modelalias"),
    ("Agents", "routing", "agentdefinition"),
    ("Mappings", "routing", "subagentmapping"),
    ("Rules", "routing", "routingrule"),
    ("Prices", "requestlog", "modelprice"),
)


#: What every dashboard page needs: the pages show logged bodies, prompts and answers.
VIEW_LOG = "requestlog.view_requestlog"


def log_reader_required(view: View) -> View:
    """Login (the admin's) for anonymous visitors; 403 unless staff with VIEW_LOG."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff and user.has_perm(VIEW_LOG)):
            raise PermissionDenied("The dashboard needs the permission to view request logs.")
        return view(request, *args, **kwargs)

    return wrapper


def _reverse(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def page(
    request: HttpRequest, template: str, section: str, context: dict[str, Any]
) -> HttpResponse:
    """Render a dashboard page with the navigation."""
    user = request.user
    admin_links = [
        {"label": label, "url": url}
        for label, app, model in ADMIN_LINKS
        if (user.has_perm(f"{app}.view_{model}") or user.has_perm(f"{app}.change_{model}"))
        and (url := _reverse(f"admin:{app}_{model}_changelist")) is not None
    ]
    context = {
        "section": section,
        "admin_links": admin_links,
        "api_docs_url": _reverse("api-docs"),
        **context,
    }
    return render(request, template, context)


def _query(params: dict[str, Any], **changes: Any) -> str:
    merged = {**params, **changes}
    return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "")})


# --- requests -------------------------------------------------------------------
@require_GET
@log_reader_required
def requests_list(request: HttpRequest) -> HttpResponse:
    form = queries.RequestFilterForm(request.GET)
    filters = form.filters()
    result = queries.request_page(filters)
    params = {k: v for k, v in request.GET.items() if k != "before" and v}
    # New rows belong at the top only of the newest page, and only if the browser
    # can tell whether they match (it cannot search bodies).
    live = not any(name in filters for name in ("q", "until", "before"))
    live_filters = {
        name: str(filters[name]) for name in (*form.LIVE_FIELDS, "conversation") if name in filters
    }
    suggestions = queries.recent_values()
    return page(
        request,
        "dashboard/requests.html",
        "requests",
        {
            "form": form,
            "rows": [row_view(row) for row in result.rows],
            "older_url": _query(params, before=result.older) if result.older else None,
            "newest_url": _query(params) if "before" in filters else None,
            "filtered": any(name != "before" for name in filters),
            "search_from": fmt_time(result.search_from) if result.search_from else "",
            "search_rows": f"{queries.SEARCH_WINDOW_ROWS:,}",
            "live": live,
            "live_filters": live_filters,
            "ws_path": "/ws/requests/",
            "max_rows": queries.PAGE_SIZE * 4,
            "suggestions": suggestions,
        },
    )


@require_GET
@log_reader_required
def request_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    log = get_object_or_404(RequestLog, request_id=request_id)
    row = row_view({name: getattr(log, name) for name in queries.LIST_FIELDS})
    attempts = [
        {
            "provider": a.get("provider", ""),
            "account": a.get("account", ""),
            "model": a.get("model", ""),
            "status": a.get("status") or "",
            "status_class": status_class(a.get("status"), "completed")
            if a.get("status")
            else "client",
            "error": a.get("error", ""),
            "ms": fmt_ms(a.get("ms")),
        }
        for a in (log.attempts or [])
        if isinstance(a, dict)
    ]
    headers = sorted(
        (str(k), str(v))
        for k, v in (log.request_headers.items() if isinstance(log.request_headers, dict) else [])
    )
    neighbours = {}
    if log.conversation_key:
        turns = RequestLog.objects.filter(conversation_key=log.conversation_key)
        earlier = turns.filter(
            Q(started_at__lt=log.started_at) | Q(started_at=log.started_at, id__lt=log.id)
        )
        later = turns.filter(
            Q(started_at__gt=log.started_at) | Q(started_at=log.started_at, id__gt=log.id)
        )
        ids = "request_id"
        neighbours = {
            "previous": earlier.order_by("-started_at", "-id").values_list(ids, flat=True).first(),
            "next": later.order_by("started_at", "id").values_list(ids, flat=True).first(),
        }
    return page(
        request,
        "dashboard/request_detail.html",
        "requests",
        {
            "log": log,
            "row": row,
            "conversation": show.conversation(log.request_body),
            "answer": show.answer(log.response_body),
            "attempts": attempts,
            "headers": headers,
            "notes": [str(note) for note in (log.notes or [])],
            "finished": fmt_time(log.finished_at),
            "tokens": {
                "input": fmt_int(log.input_tokens),
                "output": fmt_int(log.output_tokens),
                "cache_read": fmt_int(log.cache_read_input_tokens),
                "cache_write": fmt_int(log.cache_creation_input_tokens),
                "total": fmt_int(log.total_tokens),
            },
            "raw": [
                ("Client request", show.pretty_body(log.request_body)),
                ("Upstream request", show.pretty_body(log.upstream_request_body)),
                ("Upstream response", show.pretty_body(log.upstream_response_body)),
                ("Response to the client", show.pretty_body(log.response_body)),
            ],
            "neighbours": neighbours,
            "admin_url": _reverse("admin:requestlog_requestlog_change", log.pk),
        },
    )


# --- conversations -----------------------------------------------------------------
def _micros(moment: datetime) -> int:
    return (moment - queries.EPOCH) // timedelta(microseconds=1)


@require_GET
@log_reader_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    size = convo.DEFAULT_PAGE_SIZE
    after = None
    try:
        after = (
            queries.EPOCH + timedelta(microseconds=int(request.GET["after_at"])),
            request.GET["after_key"],
        )
    except (KeyError, ValueError, OverflowError):
        after = None
    items = convo.recent_conversations(limit=size + 1, after=after)
    older_url = None
    if len(items) > size:
        items = items[:size]
        last = items[-1]
        older_url = _query({}, after_at=_micros(last.last_at), after_key=last.key)
    rows = [
        {
            "key": item.key,
            "first_prompt": item.first_prompt,
            "turns": fmt_int(item.turns),
            "models": fmt_list(item.models),
            "all_models": ", ".join(item.models),
            "tokens_in": fmt_int(
                item.counts.input_tokens
                + item.counts.cache_read_input_tokens
                + item.counts.cache_creation_input_tokens
            ),
            "tokens_out": fmt_int(item.counts.output_tokens),
            "cost": fmt_cost(item.counts.cost_usd),
            "errors": item.counts.errors,
            "first_at": fmt_time(item.first_at),
            "last_at": fmt_time(item.last_at),
            "duration": fmt_duration((item.last_at - item.first_at).total_seconds()),
        }
        for item in items
    ]
    return page(
        request,
        "dashboard/conversations.html",
        "conversations",
        {"rows": rows, "older_url": older_url, "paged": after is not None},
    )


TURNS_PAGE = 100


@require_GET
@log_reader_required
def conversation_detail(request: HttpRequest, key: str) -> HttpResponse:
    turns = convo.conversation_turns(key)
    summary = convo.summarize([key]).get(key)
    if summary is None:
        return _missing_conversation(request, key)
    start = request.GET.get("from", "")
    parsed = queries.parse_cursor(start) if start else None
    if parsed is not None:
        at, row_id = parsed
        turns = turns.filter(started_at__gte=at).filter(Q(started_at__gt=at) | Q(id__gt=row_id))
    fields = (*queries.LIST_FIELDS, "response_body")
    rows = list(turns.values(*fields)[: TURNS_PAGE + 1])
    try:
        first_number = max(1, int(request.GET.get("n", "1"))) if parsed else 1
    except ValueError:
        first_number = 1
    later_url = None
    if len(rows) > TURNS_PAGE:
        rows = rows[:TURNS_PAGE]
        cursor = queries.cursor_for(rows[-1]["started_at"], rows[-1]["id"])
        later_url = _query({}, **{"from": cursor, "n": first_number + TURNS_PAGE})
    views = []
    for number, row in enumerate(rows, start=first_number):
        view = row_view(row)
        view["answer"] = show.answer_preview(row["response_body"])
        view["number"] = number
        views.append(view)
    counts = summary.counts
    return page(
        request,
        "dashboard/conversation_detail.html",
        "conversations",
        {
            "key": key,
            "summary": {
                "first_prompt": summary.first_prompt,
                "turns": fmt_int(summary.turns),
                "models": ", ".join(summary.models),
                "first_at": fmt_time(summary.first_at),
                "last_at": fmt_time(summary.last_at),
                "tokens_in": fmt_int(
                    counts.input_tokens
                    + counts.cache_read_input_tokens
                    + counts.cache_creation_input_tokens
                ),
                "tokens_out": fmt_int(counts.output_tokens),
                "cost": fmt_cost(counts.cost_usd),
                "errors": fmt_int(counts.errors),
            },
            "turns": views,
            "later_url": later_url,
            "paged": parsed is not None,
            "requests_url": reverse("dashboard:requests") + _query({}, conversation=key),
        },
    )


def _missing_conversation(request: HttpRequest, key: str) -> HttpResponse:
    response = page(
        request,
        "dashboard/conversation_detail.html",
        "conversations",
        {"key": key, "summary": None, "turns": []},
    )
    response.status_code = 404
    return response


# --- usage ----------------------------------------------------------------------------
#: The usage page's periods: label, length, bucket.
PERIODS = {
    "24h": ("Last 24 hours", timedelta(hours=24), "hour"),
    "7d": ("Last 7 days", timedelta(days=7), "day"),
    "30d": ("Last 30 days", timedelta(days=30), "day"),
    "90d": ("Last 90 days", timedelta(days=90), "day"),
}
DEFAULT_PERIOD = "7d"
#: Series drawn per stacked chart before the rest is summed as "other".
TOP_GROUPS = 6
GROUP_EMPTY_LABELS = {
    "model": "(none)",
    "provider": "(none)",
    "subagent": "main agent",
    "route": "(none)",
}


def _window(period: str, now: datetime) -> tuple[datetime, datetime, str]:
    _, length, bucket = PERIODS[period]
    until = stats.bucket_start(now, bucket) + stats.BUCKET_STEP[bucket]
    since = until - length
    return since, until, bucket


def _bucket_label(start: datetime, bucket: str) -> str:
    return start.strftime("%H:%M") if bucket == "hour" else start.strftime("%b %d")


def _stacked(
    starts: list[datetime],
    by_key: dict[tuple[datetime, str | None], stats.Counts],
    measure: Callable[[stats.Counts], float],
    empty_label: str,
) -> list[tuple[str, list[float]]]:
    """One series per group (the largest TOP_GROUPS, then "other") of `measure`."""
    totals: dict[str, float] = {}
    for (_, key), counts in by_key.items():
        totals[key or ""] = totals.get(key or "", 0) + measure(counts)
    ranked = [key for key, total in sorted(totals.items(), key=lambda kv: -kv[1]) if total > 0]
    top, rest = ranked[:TOP_GROUPS], set(ranked[TOP_GROUPS:])
    index = {start: i for i, start in enumerate(starts)}
    series = {key: [0.0] * len(starts) for key in top}
    other = [0.0] * len(starts)
    for (start, key), counts in by_key.items():
        i = index.get(start)
        if i is None:
            continue
        key = key or ""
        if key in series:
            series[key][i] += measure(counts)
        elif key in rest:
            other[i] += measure(counts)
    result = [(key or empty_label, values) for key, values in series.items()]
    if rest:
        result.append(("other", other))
    return result


def _breakdown(
    by_key: dict[tuple[datetime, str | None], stats.Counts], empty_label: str
) -> list[dict[str, Any]]:
    """Per-group totals for a table, largest first, with each group's share of requests."""
    totals: dict[str, stats.Counts] = {}
    for (_, key), counts in by_key.items():
        totals.setdefault(key or "", stats.Counts()).add(counts)
    grand = sum(c.requests for c in totals.values()) or 1
    rows = []
    for key, counts in sorted(totals.items(), key=lambda kv: -kv[1].requests):
        rows.append(
            {
                "key": key or empty_label,
                "requests": fmt_int(counts.requests),
                "share": round(100 * counts.requests / grand, 1),
                "errors": fmt_int(counts.errors),
                "error_rate": f"{100 * counts.error_rate:.1f}%",
                "tokens_in": fmt_tokens_short(
                    counts.input_tokens
                    + counts.cache_read_input_tokens
                    + counts.cache_creation_input_tokens
                ),
                "tokens_out": fmt_tokens_short(counts.output_tokens),
                "cost": fmt_cost(counts.cost_usd),
            }
        )
    return rows


def _percentile_series(
    series: list[stats.Point], bucket: str, until: datetime
) -> dict[float, list[float | None]]:
    """p50/p95/p99 latency per bucket, from the hourly latency histograms."""
    found = stats.latency_percentile_series(series[0].start, until, bucket)  # type: ignore[arg-type]
    result: dict[float, list[float | None]] = {q: [] for q in stats.DEFAULT_QUANTILES}
    for point in series:
        values = found.get(point.start)
        for quantile, column in result.items():
            column.append(values[quantile] if values else None)
    return result


def _ms_label(value: float) -> str:
    """An axis label: 250 ms, 1.5 s, 15 s."""
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:g} s"


def _pct_label(value: float) -> str:
    return f"{value:.0f}%" if value >= 10 or value == 0 else f"{value:.1f}%"


@require_GET
@log_reader_required
def usage(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period", DEFAULT_PERIOD)
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    since, until, bucket = _window(period, datetime.now(UTC))
    result = queries.usage(since, until, bucket)
    starts = [point.start for point in result.series]
    labels = [_bucket_label(start, bucket) for start in starts]
    totals = result.totals

    def per_bucket(measure: Callable[[stats.Counts], float]) -> list[float]:
        return [measure(point.counts) for point in result.series]

    grouped = result.grouped
    latency = _percentile_series(result.series, bucket, until) if totals.requests else {}
    error_rates = [
        100 * point.counts.error_rate if point.counts.requests else 0.0 for point in result.series
    ]
    cost_fmt: Callable[[float], str] = lambda v: fmt_cost(round(v, 4))  # noqa: E731
    charts_ = [
        {
            "title": "Requests",
            "chart": charts.bar_chart(
                labels,
                [
                    ("completed", per_bucket(lambda c: c.requests - c.errors - c.cancelled)),
                    ("errors", per_bucket(lambda c: c.errors)),
                    ("cancelled", per_bucket(lambda c: c.cancelled)),
                ],
                colours=(charts.BLUE, charts.RED, charts.GREY),
            ),
        },
        {
            "title": "Tokens",
            "chart": charts.bar_chart(
                labels,
                [
                    ("input", per_bucket(lambda c: c.input_tokens)),
                    ("output", per_bucket(lambda c: c.output_tokens)),
                    ("cache read", per_bucket(lambda c: c.cache_read_input_tokens)),
                    ("cache write", per_bucket(lambda c: c.cache_creation_input_tokens)),
                ],
                fmt=fmt_tokens_short,
            ),
        },
        {
            "title": "Cost by model",
            "empty_text": "No priced requests in this period (see Prices)."
            if totals.requests
            else "",
            "chart": charts.bar_chart(
                labels,
                _stacked(starts, grouped["model"], lambda c: float(c.cost_usd), "(none)"),
                fmt=cost_fmt,
                integer=False,
            ),
        },
        {
            "title": "Requests by provider",
            "chart": charts.bar_chart(
                labels, _stacked(starts, grouped["provider"], lambda c: c.requests, "(none)")
            ),
        },
        {
            "title": "Tokens by subagent",
            "chart": charts.bar_chart(
                labels,
                _stacked(
                    starts,
                    grouped["subagent"],
                    lambda c: (
                        c.input_tokens
                        + c.output_tokens
                        + c.cache_read_input_tokens
                        + c.cache_creation_input_tokens
                    ),
                    "main agent",
                ),
                fmt=fmt_tokens_short,
            ),
        },
        {
            "title": "Latency percentiles",
            "note": f"per {bucket}, from histograms (±9%)",
            "line": True,
            "chart": charts.line_chart(
                labels,
                [(f"p{q * 100:g}", values) for q, values in latency.items()],
                fmt=_ms_label,
            ),
        },
        {
            "title": "Error rate",
            "chart": charts.bar_chart(
                labels,
                [("error rate", error_rates)],
                fmt=_pct_label,
                integer=False,
                colours=(charts.RED,),
            ),
            "empty_text": "No errors in this period." if totals.requests else "",
        },
    ]
    tiles = [
        ("Requests", fmt_int(totals.requests), ""),
        ("Errors", f"{100 * totals.error_rate:.1f}%", f"{totals.errors:,} requests"),
        (
            "Input tokens",
            fmt_tokens_short(
                totals.input_tokens
                + totals.cache_read_input_tokens
                + totals.cache_creation_input_tokens
            ),
            f"{fmt_tokens_short(totals.cache_read_input_tokens)} from cache",
        ),
        ("Output tokens", fmt_tokens_short(totals.output_tokens), ""),
        ("Cost", fmt_cost(totals.cost_usd), ""),
        ("Latency p50", _fmt_percentile(result.latency_ms[0.5]), _tail(result.latency_ms)),
        ("Time to first byte p50", _fmt_percentile(result.ttfb_ms[0.5]), _tail(result.ttfb_ms)),
    ]
    breakdowns = [
        (title, _breakdown(grouped[name], GROUP_EMPTY_LABELS[name]))
        for title, name in (
            ("By model", "model"),
            ("By provider", "provider"),
            ("By subagent", "subagent"),
            ("By route", "route"),
        )
    ]
    return page(
        request,
        "dashboard/usage.html",
        "usage",
        {
            "period": period,
            "periods": [(key, label) for key, (label, _, _) in PERIODS.items()],
            "since": fmt_time(since),
            "until": fmt_time(until),
            "bucket": bucket,
            "tiles": tiles,
            "charts": charts_,
            "breakdowns": breakdowns,
            "empty": totals.requests == 0,
        },
    )


def _tail(values: stats.Percentiles) -> str:
    return f"p95 {_fmt_percentile(values[0.95])} · p99 {_fmt_percentile(values[0.99])}"


def _fmt_percentile(value: float | None) -> str:
    return "—" if value is None else fmt_ms(round(value))
