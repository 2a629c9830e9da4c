"""Query-string filters over the request log, shared by /api/requests/ and /api/stats/."""

from __future__ import annotations

import re

from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from requestlog.models import Outcome, RequestLog
from requestlog.stats import ERROR_OUTCOMES

#: Booleans are spelled true/false; anything else is refused rather than ignored.
BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]
_STATUS = re.compile(r"^(?:(?P<class>[1-5])xx|(?P<exact>[1-5]\d\d))$", re.IGNORECASE)


class RequestLogFilter(filters.FilterSet):
    since = filters.IsoDateTimeFilter(
        field_name="started_at",
        lookup_expr="gte",
        label="Started at or after this ISO 8601 time (UTC if no offset).",
    )
    until = filters.IsoDateTimeFilter(
        field_name="started_at",
        lookup_expr="lt",
        label="Started before this ISO 8601 time (UTC if no offset).",
    )
    provider = filters.CharFilter(label="Provider name (exact).")
    model = filters.CharFilter(method="filter_model", label="Requested or target model (exact).")
    subagent = filters.CharFilter(label="Subagent name (exact).")
    route = filters.CharFilter(label="Route: default, explicit, alias, rule, subagent, sticky…")
    endpoint = filters.CharFilter(label="Endpoint: messages, count_tokens…")
    outcome = filters.ChoiceFilter(choices=Outcome.choices)
    status = filters.CharFilter(
        method="filter_status",
        label="HTTP status class (2xx, 4xx, 5xx) or exact status (429).",
        validators=[RegexValidator(_STATUS, "Use a class such as 4xx or a status such as 429.")],
    )
    stream = filters.TypedChoiceFilter(
        choices=BOOLEAN_CHOICES, coerce=lambda value: value == "true", label="Streamed."
    )
    has_error = filters.TypedChoiceFilter(
        choices=BOOLEAN_CHOICES,
        coerce=lambda value: value == "true",
        method="filter_has_error",
        label="Ended in a client, upstream or gateway error.",
    )
    min_latency_ms = filters.NumberFilter(
        field_name="latency_ms", lookup_expr="gte", min_value=0, label="Latency at least (ms)."
    )
    conversation = filters.CharFilter(field_name="conversation_key", label="Conversation key.")
    search = filters.CharFilter(
        method="filter_search",
        label="Text in the request or response body or the error message (case-insensitive).",
    )

    class Meta:
        model = RequestLog
        fields: list[str] = []

    def filter_model(self, rows: QuerySet, name: str, value: str) -> QuerySet:
        return rows.filter(Q(requested_model=value) | Q(target_model=value))

    def filter_status(self, rows: QuerySet, name: str, value: str) -> QuerySet:
        match = _STATUS.match(value)
        if match is None:  # the validator already refused it
            return rows.none()
        if match["exact"]:
            return rows.filter(status=int(match["exact"]))
        low = int(match["class"]) * 100
        return rows.filter(status__gte=low, status__lt=low + 100)

    def filter_has_error(self, rows: QuerySet, name: str, value: bool) -> QuerySet:
        errors = Q(outcome__in=ERROR_OUTCOMES)
        return rows.filter(errors) if value else rows.exclude(errors)

    def filter_search(self, rows: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return rows
        return rows.filter(
            Q(request_body__icontains=value)
            | Q(response_body__icontains=value)
            | Q(error_message__icontains=value)
        )
