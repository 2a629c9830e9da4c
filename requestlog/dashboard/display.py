"""Formatting of log values for the dashboard: durations, tokens, money, status colours.

Pure functions over plain values, so the same row view serves a page render
(rows read with `.values()`) and the live feed (row dicts from the log writer).
Nothing here marks text safe: templates escape every value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from requestlog.models import Outcome

OUTCOME_LABELS = dict(Outcome.choices)


def fmt_int(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def fmt_ms(value: int | None) -> str:
    """734 ms, 1.23 s, 2m 03s."""
    if value is None:
        return "—"
    if value < 1000:
        return f"{value} ms"
    if value < 60_000:
        return f"{value / 1000:.2f} s"
    minutes, seconds = divmod(round(value / 1000), 60)
    return f"{minutes}m {seconds:02d}s"


def fmt_duration(seconds: float) -> str:
    """A span of time for people: 45 s, 12m 05s, 3h 12m, 4d 7h."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def fmt_list(values: list[str], limit: int = 3) -> str:
    """The first few values, then how many more."""
    shown = ", ".join(values[:limit])
    return f"{shown} +{len(values) - limit} more" if len(values) > limit else shown


def fmt_cost(value: Any) -> str:
    """US dollars: four decimals under a dollar, two above; an unpriced row shows a dash."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "—"
    if amount == 0:
        return "$0"
    if abs(amount) < 1:
        return f"${amount:.4f}"
    return f"${amount:,.2f}"


def fmt_tokens_short(value: int | float | None) -> str:
    """1.2k, 3.4M: for chart labels and summary tiles."""
    if value is None:
        return "—"
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".removesuffix(".0") + suffix
    return f"{value:.0f}"


def fmt_time(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def status_class(status: int | None, outcome: str = Outcome.COMPLETED) -> str:
    """A CSS class for the status badge: ok, redirect, client, server or cancelled."""
    if outcome == Outcome.CANCELLED:
        return "cancelled"
    if not status:
        return "client" if outcome != Outcome.COMPLETED else "ok"
    if status < 300:
        return "ok" if outcome == Outcome.COMPLETED else "client"
    if status < 400:
        return "redirect"
    if status < 500:
        return "client"
    return "server"


def is_error(outcome: str) -> bool:
    return outcome != Outcome.COMPLETED


def row_view(row: dict[str, Any]) -> dict[str, Any]:
    """What the request table shows for one row (a dict with queries.LIST_FIELDS)."""
    requested = row.get("requested_model") or ""
    target = row.get("target_model") or ""
    outcome = row.get("outcome") or Outcome.COMPLETED
    status = row.get("status")
    cache_read = row.get("cache_read_input_tokens") or 0
    cache_write = row.get("cache_creation_input_tokens") or 0
    input_tokens = row.get("input_tokens") or 0
    output_tokens = row.get("output_tokens") or 0
    error = ""
    if row.get("error_type") or row.get("error_message"):
        error = f"{row.get('error_type') or 'error'}: {row.get('error_message') or ''}"[:300]
    return {
        "request_id": row.get("request_id", ""),
        "time": fmt_time(row.get("started_at")),
        "iso": fmt_iso(row.get("started_at"))
        if isinstance(row.get("started_at"), datetime)
        else str(row.get("started_at") or ""),
        "status": status or "",
        "status_class": status_class(status, outcome),
        "outcome": outcome,
        "outcome_label": OUTCOME_LABELS.get(outcome, outcome),
        "is_error": is_error(outcome),
        "error": error,
        "requested_model": requested,
        "target_model": target if target != requested else "",
        "provider": row.get("provider") or "",
        "account": row.get("account") or "",
        "route": row.get("route") or "",
        "subagent": row.get("subagent") or "",
        "stream": bool(row.get("stream")),
        "latency": fmt_ms(row.get("latency_ms")),
        "ttfb": fmt_ms(row.get("ttfb_ms")),
        "tokens_in": fmt_int(input_tokens + cache_read + cache_write),
        "tokens_in_detail": (
            f"input {input_tokens:,} · cache read {cache_read:,} · cache write {cache_write:,}"
        ),
        "tokens_out": fmt_int(output_tokens),
        "cost": fmt_cost(row.get("cost_usd")),
        "conversation_key": row.get("conversation_key") or "",
        "tool_calls": ", ".join(str(name) for name in (row.get("tool_calls") or [])[:5]),
    }
