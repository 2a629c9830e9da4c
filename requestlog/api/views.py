"""The /api/ views of the request log: requests, conversations, statistics, prices.

Session or token (REST_FRAMEWORK in settings), then staff with
`requestlog.view_requestlog` for the log, and ModelPrice's model permissions
for prices (see `permissions.py`); nothing anonymous. The request log is
read-only here; old rows go with `manage.py prunelogs`, never through the
API. The routing config's endpoints are in `routing.api`.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from django.db.models import (
    BigIntegerField,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    QuerySet,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from requestlog import conversations, stats
from requestlog.api.filters import RequestLogFilter
from requestlog.api.pagination import (
    KeysetPagination,
    SortKey,
    decode_datetime,
    decode_decimal,
    decode_token,
    encode_token,
    page_size,
)
from requestlog.api.permissions import CanReadLog, StaffModelPermissions
from requestlog.api.serializers import (
    HEAVY_FIELDS,
    ConversationSerializer,
    ModelPriceSerializer,
    RequestLogDetailSerializer,
    RequestLogListSerializer,
    StatsQuerySerializer,
    StatsSerializer,
)
from requestlog.conversation_links import SEGMENT_REGEX, key_from_segment
from requestlog.models import ModelPrice, RequestLog

#: Sort keys of the request list (`?ordering=`, "-" for high to low).
REQUEST_ORDERINGS = {
    "started_at": SortKey("started_at", decode_datetime),
    "latency_ms": SortKey("latency_ms"),
    # A request without a first byte sorts as -1: after every real one, high to low.
    # (A signed output field: Django drops a "> -1" lookup on an unsigned one as always true.)
    "ttfb_ms": SortKey(Coalesce(F("ttfb_ms"), Value(-1), output_field=IntegerField())),
    "tokens": SortKey(
        ExpressionWrapper(
            F("input_tokens")
            + F("output_tokens")
            + F("cache_read_input_tokens")
            + F("cache_creation_input_tokens"),
            output_field=BigIntegerField(),
        )
    ),
    "cost": SortKey(
        Coalesce(
            F("cost_usd"),
            Value(0),
            output_field=DecimalField(max_digits=14, decimal_places=8),
        ),
        decode_decimal,
    ),
}
#: Stats over a range shorter than this are bucketed by hour by default.
HOURLY_UP_TO = timedelta(days=3)
#: The stats range when `since` is not given.
DEFAULT_STATS_RANGE = timedelta(days=7)


class RequestLogViewSet(viewsets.ReadOnlyModelViewSet):
    """The request log, newest first; filters, search, ordering and cursor pages."""

    permission_classes = [CanReadLog]
    queryset = RequestLog.objects.all()
    lookup_field = "request_id"
    filterset_class = RequestLogFilter
    pagination_class = KeysetPagination
    keyset_orderings = REQUEST_ORDERINGS
    keyset_default_ordering = "-started_at"

    def get_queryset(self) -> QuerySet[RequestLog]:
        rows = RequestLog.objects.all()
        return rows.defer(*HEAVY_FIELDS) if self.action == "list" else rows

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return RequestLogListSerializer if self.action == "list" else RequestLogDetailSerializer


# --- conversations -----------------------------------------------------------------
class ConversationViewSet(viewsets.ViewSet):
    """Requests grouped by conversation key, most recently active first.

    A conversation's URL holds its key as `requestlog.conversation_links`
    writes it: as it is when plain, else `~` and its URL-safe base64; follow
    the `url` each conversation carries.
    """

    permission_classes = [CanReadLog]
    lookup_field = "key"
    lookup_value_regex = f"(?:{SEGMENT_REGEX})"
    keyset_orderings = {"started_at": SortKey("started_at", decode_datetime)}
    keyset_default_ordering = "started_at"

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "cursor", OpenApiTypes.STR, description="From a previous page's `next` link."
            ),
            OpenApiParameter(
                "page_size",
                OpenApiTypes.INT,
                description=f"Conversations per page (default {conversations.DEFAULT_PAGE_SIZE},"
                f" at most {KeysetPagination.max_page_size}).",
            ),
        ],
        responses=inline_serializer(
            "PaginatedConversationList",
            {
                "next": serializers.URLField(allow_null=True),
                "results": ConversationSerializer(many=True),
            },
        ),
    )
    def list(self, request: Request) -> Response:
        size = page_size(request, conversations.DEFAULT_PAGE_SIZE, KeysetPagination.max_page_size)
        after = _decode_conversation_cursor(request.query_params.get("cursor"))
        page = conversations.recent_conversations(limit=size + 1, after=after)
        has_more = len(page) > size
        page = page[:size]
        next_link = None
        if has_more:
            last_at, key = page[-1].position
            token = encode_token({"t": last_at.isoformat(), "k": key})
            next_link = replace_query_param(request.build_absolute_uri(), "cursor", token)
        data = ConversationSerializer(page, many=True, context={"request": request}).data
        return Response({"next": next_link, "results": data})

    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From a `next` link."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="Turns per page."),
        ],
        responses=inline_serializer(
            "ConversationTurns",
            {
                "conversation": ConversationSerializer(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": RequestLogListSerializer(many=True),
            },
        ),
    )
    def retrieve(self, request: Request, key: str) -> Response:
        try:
            key = key_from_segment(key)
        except ValueError:
            raise NotFound("No such conversation.") from None
        summary = conversations.summarize([key]).get(key)
        if summary is None:
            raise NotFound("No such conversation.")
        paginator = KeysetPagination()
        turns = conversations.conversation_turns(key).defer(*HEAVY_FIELDS)
        page = paginator.paginate_queryset(turns, request, view=self)
        body = paginator.paginated_body(
            RequestLogListSerializer(page, many=True, context={"request": request}).data
        )
        conversation = ConversationSerializer(summary, context={"request": request}).data
        return Response({"conversation": conversation, **body})


def _decode_conversation_cursor(token: str | None) -> conversations.Position | None:
    if not token:
        return None
    try:
        payload = decode_token(token)
        return decode_datetime(payload["t"]), str(payload["k"])
    except (KeyError, TypeError, ValueError):
        raise NotFound("Invalid cursor.") from None


# --- stats ---------------------------------------------------------------------------
def _filter_parameters() -> list[OpenApiParameter]:
    """The request filters stats also accept, for the schema."""
    skip = {"since", "until", "search"}
    return [
        OpenApiParameter(name, OpenApiTypes.STR, description=str(f.label or ""))
        for name, f in RequestLogFilter.base_filters.items()
        if name not in skip
    ]


class StatsView(APIView):
    """Totals, a time series and percentiles for a time range, optionally broken down.

    Counts, tokens and cost are exact. Latency and time-to-first-byte
    percentiles are exact for the whole log; filtered by provider, model,
    subagent or route they come from hourly histograms (within 9%); other
    filters read the log rows and are exact but slower on big logs.
    """

    permission_classes = [CanReadLog]

    @extend_schema(
        parameters=[StatsQuerySerializer, *_filter_parameters()],
        responses=StatsSerializer,
    )
    def get(self, request: Request) -> Response:
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        until = params.get("until") or timezone.now()
        since = params.get("since") or until - DEFAULT_STATS_RANGE
        bucket = params.get("bucket") or ("hour" if until - since <= HOURLY_UP_TO else "day")

        filters = request.query_params.copy()
        for name in ("since", "until", "bucket", "group_by"):
            filters.pop(name, None)
        filterset = RequestLogFilter(filters, queryset=RequestLog.objects.all(), request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        # Provider, model, subagent and route are answered from the hourly
        # rollup; any other filter needs the log rows themselves.
        dimensions = {
            name: value
            for name, value in filterset.form.cleaned_data.items()
            if name in stats.GROUP_BY_CHOICES and value not in (None, "")
        }
        rows = None if set(filters) <= set(dimensions) else filterset.qs
        try:
            result = stats.compute_stats(
                rows,
                since=since.astimezone(UTC),
                until=until.astimezone(UTC),
                bucket=bucket,
                group_by=params.get("group_by"),
                dimensions=dimensions,
            )
        except ValueError as exc:
            raise ValidationError({"bucket": [str(exc)]}) from None
        return Response(StatsSerializer(result).data)


# --- prices ---------------------------------------------------------------------------
class ModelPriceViewSet(viewsets.ModelViewSet):
    """Prices per million tokens; the most specific enabled match costs a request."""

    permission_classes = [StaffModelPermissions]
    queryset = ModelPrice.objects.all()
    serializer_class = ModelPriceSerializer
