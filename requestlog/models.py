"""One row per client request (SPEC section 6), and the price table that costs it.

Times are UTC.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import TruncHour


class Outcome(models.TextChoices):
    COMPLETED = "completed", "completed"
    CLIENT_ERROR = "client_error", "rejected (client error)"
    UPSTREAM_ERROR = "upstream_error", "upstream error"
    GATEWAY_ERROR = "gateway_error", "gateway error"
    CANCELLED = "cancelled", "cancelled by client"


class HourBucket(TruncHour):
    """The UTC hour a time falls in; on SQLite with the native strftime.

    Django's SQLite Trunc calls a Python function per row, which is several
    times slower over a million rows and cannot be indexed. Stored times are
    UTC, as are the buckets. Used by `requestlog.stats` (migration 0005
    imports it from here for an index 0006 removed: keep it in this module).
    """

    # "%%": SQL with no parameters still goes through %-formatting (DDL, queries).
    SQLITE_FORMAT = "%%Y-%%m-%%d %%H:00:00"

    def __init__(self, expression, **extra) -> None:
        extra.setdefault("tzinfo", UTC)
        super().__init__(expression, **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.lhs)
        return f"strftime('{self.SQLITE_FORMAT}', {sql})", params


class RequestLog(models.Model):
    request_id = models.CharField(max_length=40, unique=True)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()
    endpoint = models.CharField(max_length=32)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    requested_model = models.CharField(max_length=200, blank=True, db_index=True)
    provider = models.CharField(max_length=64, blank=True, db_index=True)
    account = models.CharField(max_length=64, blank=True)
    target_model = models.CharField(max_length=200, blank=True)
    route = models.CharField(max_length=32, blank=True)
    route_reason = models.CharField(max_length=500, blank=True)
    subagent = models.CharField(max_length=200, blank=True, db_index=True)
    stream = models.BooleanField(default=False)

    status = models.PositiveSmallIntegerField(db_index=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error_type = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.JSONField(default=list, blank=True)

    latency_ms = models.PositiveIntegerField(default=0)
    ttfb_ms = models.PositiveIntegerField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_creation_input_tokens = models.PositiveIntegerField(default=0)
    cache_read_input_tokens = models.PositiveIntegerField(default=0)
    tools_offered = models.JSONField(default=list, blank=True)
    tool_calls = models.JSONField(default=list, blank=True)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)

    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    upstream_request_body = models.TextField(blank=True)
    upstream_response_body = models.TextField(blank=True)
    conversation_key = models.CharField(max_length=100, blank=True, db_index=True)
    notes = models.JSONField(
        default=list, blank=True, help_text="What translation dropped or changed."
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["provider", "started_at"], name="log_provider_time"),
            # Percentiles: ORDER BY value LIMIT 2 OFFSET k in a time window, from the index.
            models.Index(fields=["latency_ms", "started_at"], name="log_latency_time"),
            models.Index(fields=["ttfb_ms", "started_at"], name="log_ttfb_time"),
            # Conversations: the log read newest first, keys from the index alone.
            models.Index(fields=["started_at", "conversation_key"], name="log_time_conversation"),
            # The model filter matches the requested or the target model.
            models.Index(fields=["target_model", "started_at"], name="log_target_model_time"),
            # Stats filtered by outcome or has_error (rare rows) read only those rows.
            models.Index(fields=["outcome", "started_at"], name="log_outcome_time"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.requested_model} {self.status}"

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )


#: The columns a usage rollup row is keyed by, after its start; each is a RequestLog column.
USAGE_KEY_FIELDS = ("provider", "requested_model", "target_model", "subagent", "route")


class UsageSums(models.Model):
    """The request log summed per UTC period and (provider, models, subagent, route).

    Written only by database triggers on the log (`requestlog.rollup_sql`,
    installed by migration 0006): every row inserted, deleted or changed in
    `RequestLog` is added or taken away in the same transaction, whichever
    program wrote it. Statistics read these rows instead of the log's
    (`requestlog.stats`); `rebuildrollups` recomputes them from the log.
    """

    start = models.DateTimeField(help_text="Start of the UTC hour or day.")
    provider = models.CharField(max_length=64, blank=True)
    requested_model = models.CharField(max_length=200, blank=True)
    target_model = models.CharField(max_length=200, blank=True)
    subagent = models.CharField(max_length=200, blank=True)
    route = models.CharField(max_length=32, blank=True)
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    cancelled = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_read_input_tokens = models.BigIntegerField(default=0)
    cache_creation_input_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=24, decimal_places=8, default=Decimal(0))
    #: Rows with a time to first byte.
    ttfb_count = models.BigIntegerField(default=0)
    #: Histograms of these rows' latency and time to first byte, {"bin": count}
    #: (bins as in LatencyCounts): percentiles of a narrowed window.
    latency_bins = models.JSONField(default=dict)
    ttfb_bins = models.JSONField(default=dict)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} {self.provider} {self.requests}"


class UsageHour(UsageSums):
    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["start", *USAGE_KEY_FIELDS], name="usage_hour_key")
        ]


class UsageDay(UsageSums):
    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["start", *USAGE_KEY_FIELDS], name="usage_day_key")
        ]


class LatencyCounts(models.Model):
    """How many log rows of a UTC period had a latency in each histogram bin.

    Bin b holds latencies from 2^(b/8) - 1 to 2^((b+1)/8) - 1 ms (eight bins
    per doubling, so a percentile read from it is within one bin, 9%). Kept
    by the same triggers as `UsageSums`; read for the usage page's
    per-bucket latency percentiles (`requestlog.histograms`).
    """

    start = models.DateTimeField(help_text="Start of the UTC hour or day.")
    bin = models.SmallIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} bin {self.bin}: {self.count}"


class LatencyHour(LatencyCounts):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["start", "bin"], name="latency_hour_bin")]


class LatencyDay(LatencyCounts):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["start", "bin"], name="latency_day_bin")]


def pattern_specificity(pattern: str) -> int:
    """How specific a glob is: its count of literal (non-wildcard) characters."""
    return sum(1 for char in pattern if char not in "*?[]")


_PRICE_FIELD = {
    "max_digits": 12,
    "decimal_places": 6,
    "validators": [MinValueValidator(Decimal(0))],
}


class ModelPrice(models.Model):
    """List price of a model, per million tokens, matched by provider and model globs.

    Among the enabled rows that match, the lowest `priority` number wins, then
    the more specific model pattern, then the more specific provider pattern
    (see `requestlog.pricing`).
    """

    CURRENCIES = [("USD", "US dollar")]

    provider_pattern = models.CharField(
        max_length=64,
        blank=True,
        help_text="Provider name, shell glob (openrouter, azure-*); blank = any provider.",
    )
    model_pattern = models.CharField(
        max_length=200, help_text="Model served (target model), shell glob: claude-sonnet-4*."
    )
    input_per_mtok = models.DecimalField(help_text="Per million input tokens.", **_PRICE_FIELD)
    output_per_mtok = models.DecimalField(help_text="Per million output tokens.", **_PRICE_FIELD)
    cache_read_per_mtok = models.DecimalField(
        help_text="Per million cache-read input tokens.", **_PRICE_FIELD
    )
    cache_write_per_mtok = models.DecimalField(
        help_text="Per million cache-write (cache creation) input tokens.", **_PRICE_FIELD
    )
    currency = models.CharField(max_length=3, choices=CURRENCIES, default="USD")
    priority = models.IntegerField(
        default=100,
        help_text="Lower wins; among equal priorities the more specific pattern wins.",
    )
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "model_pattern", "provider_pattern"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_pattern", "model_pattern", "priority"],
                name="unique_price_pattern",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider_pattern or '*'}:{self.model_pattern}"

    @property
    def specificity(self) -> tuple[int, int]:
        return (
            pattern_specificity(self.model_pattern),
            pattern_specificity(self.provider_pattern),
        )
