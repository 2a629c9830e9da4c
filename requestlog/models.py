"""One row per client request (SPEC section 6). Times are UTC."""

from __future__ import annotations

from django.db import models


class Outcome(models.TextChoices):
    COMPLETED = "completed", "completed"
    CLIENT_ERROR = "client_error", "rejected (client error)"
    UPSTREAM_ERROR = "upstream_error", "upstream error"
    GATEWAY_ERROR = "gateway_error", "gateway error"
    CANCELLED = "cancelled", "cancelled by client"


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
        indexes = [models.Index(fields=["provider", "started_at"], name="log_provider_time")]

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
