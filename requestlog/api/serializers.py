"""JSON shapes of the request log, conversations, statistics and prices."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from requestlog.conversation_links import key_to_segment
from requestlog.conversations import ConversationSummary
from requestlog.models import ModelPrice, RequestLog
from requestlog.stats import BUCKETS, GROUP_BY_CHOICES, Percentiles

#: Columns the list leaves out (bodies can be hundreds of kB each).
HEAVY_FIELDS = (
    "request_headers",
    "request_body",
    "response_body",
    "upstream_request_body",
    "upstream_response_body",
    "notes",
)

LIGHT_FIELDS = [
    "request_id",
    "url",
    "started_at",
    "finished_at",
    "endpoint",
    "method",
    "status",
    "outcome",
    "requested_model",
    "provider",
    "account",
    "target_model",
    "route",
    "route_reason",
    "subagent",
    "stream",
    "error_type",
    "error_message",
    "latency_ms",
    "ttfb_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "total_tokens",
    "cost_usd",
    "conversation_key",
    "tools_offered",
    "tool_calls",
]


def parse_body(text: str) -> Any:
    """A logged body as JSON when it is JSON; else its text (SSE, cut by the size cap)."""
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


@extend_schema_field(OpenApiTypes.ANY)
class BodyField(serializers.Field):
    """Read-only: the stored text parsed as JSON where it is JSON."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: str) -> Any:
        return parse_body(value)


class RequestLogListSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    total_tokens = serializers.IntegerField(read_only=True)

    class Meta:
        model = RequestLog
        fields = LIGHT_FIELDS
        read_only_fields = LIGHT_FIELDS

    def get_url(self, row: RequestLog) -> str:
        return reverse(
            "api-request-detail", args=[row.request_id], request=self.context.get("request")
        )


class RequestLogDetailSerializer(RequestLogListSerializer):
    request_body = BodyField()
    response_body = BodyField()
    upstream_request_body = BodyField()
    upstream_response_body = BodyField()

    class Meta:
        model = RequestLog
        fields = [
            *LIGHT_FIELDS,
            "path",
            "client_ip",
            "user_agent",
            "attempts",
            "notes",
            "request_headers",
            "request_body",
            "response_body",
            "upstream_request_body",
            "upstream_response_body",
        ]
        read_only_fields = fields


# --- conversations ---------------------------------------------------------------
class ConversationSerializer(serializers.Serializer):
    key = serializers.CharField()
    url = serializers.SerializerMethodField()
    first_prompt = serializers.CharField()
    turns = serializers.IntegerField()
    input_tokens = serializers.IntegerField(source="counts.input_tokens")
    output_tokens = serializers.IntegerField(source="counts.output_tokens")
    cache_read_input_tokens = serializers.IntegerField(source="counts.cache_read_input_tokens")
    cache_creation_input_tokens = serializers.IntegerField(
        source="counts.cache_creation_input_tokens"
    )
    errors = serializers.IntegerField(source="counts.errors")
    cost_usd = serializers.DecimalField(max_digits=24, decimal_places=8, source="counts.cost_usd")
    first_at = serializers.DateTimeField()
    last_at = serializers.DateTimeField()
    models = serializers.ListField(child=serializers.CharField())

    def get_url(self, summary: ConversationSummary) -> str:
        return reverse(
            "api-conversation-detail",
            args=[key_to_segment(summary.key)],
            request=self.context.get("request"),
        )


# --- stats -------------------------------------------------------------------------
class StatsQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(
        required=False, help_text="Start (inclusive), ISO 8601; default: 7 days before `until`."
    )
    until = serializers.DateTimeField(
        required=False, help_text="End (exclusive), ISO 8601; default: now."
    )
    bucket = serializers.ChoiceField(
        choices=BUCKETS,
        required=False,
        help_text="Series bucket (UTC); default: hour for ranges up to 3 days, else day.",
    )
    group_by = serializers.ChoiceField(
        choices=GROUP_BY_CHOICES, required=False, help_text="Break totals and series down."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since >= until:
            raise serializers.ValidationError({"until": ["Must be after since."]})
        return attrs


class CountsSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    errors = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    error_rate = serializers.FloatField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cache_read_input_tokens = serializers.IntegerField()
    cache_creation_input_tokens = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=24, decimal_places=8)


class PercentilesSerializer(serializers.Serializer):
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)

    def to_representation(self, instance: Percentiles) -> dict[str, Any]:
        return instance.as_dict()


class PointSerializer(CountsSerializer):
    start = serializers.DateTimeField()

    def to_representation(self, point: Any) -> dict[str, Any]:
        data = CountsSerializer(point.counts).data
        return {"start": serializers.DateTimeField().to_representation(point.start), **data}


class GroupSerializer(serializers.Serializer):
    key = serializers.CharField()
    totals = CountsSerializer()
    series = PointSerializer(many=True)


class TotalsSerializer(CountsSerializer):
    """The window's counts with latency and time-to-first-byte percentiles (from a Stats)."""

    latency_ms = PercentilesSerializer()
    ttfb_ms = PercentilesSerializer()

    def to_representation(self, stats: Any) -> dict[str, Any]:
        return {
            **CountsSerializer(stats.totals).data,
            "latency_ms": stats.latency_ms.as_dict(),
            "ttfb_ms": stats.ttfb_ms.as_dict(),
        }


class StatsSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    bucket = serializers.ChoiceField(choices=BUCKETS)
    group_by = serializers.ChoiceField(choices=GROUP_BY_CHOICES, allow_null=True)
    totals = TotalsSerializer(source="*")
    series = PointSerializer(many=True)
    groups = GroupSerializer(many=True)


# --- prices ------------------------------------------------------------------------
class ModelPriceSerializer(serializers.ModelSerializer):
    """A price, validated by `ModelPrice.full_clean()` as the admin's form validates it."""

    class Meta:
        model = ModelPrice
        fields = [
            "id",
            "provider_pattern",
            "model_pattern",
            "input_per_mtok",
            "output_per_mtok",
            "cache_read_per_mtok",
            "cache_write_per_mtok",
            "currency",
            "priority",
            "enabled",
            "note",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        price = copy.copy(self.instance) if self.instance is not None else ModelPrice()
        for name, value in attrs.items():
            setattr(price, name, value)
        try:
            price.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        return attrs
