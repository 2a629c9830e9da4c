"""Read-only admin for the request log."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from requestlog.models import RequestLog


@admin.register(RequestLog)
class RequestLogAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "status",
        "outcome",
        "requested_model",
        "provider",
        "target_model",
        "route",
        "subagent",
        "stream",
        "latency_ms",
        "ttfb_ms",
        "input_tokens",
        "output_tokens",
    ]
    list_filter = ["outcome", "status", "provider", "stream", "route", "endpoint"]
    search_fields = [
        "request_id",
        "requested_model",
        "target_model",
        "conversation_key",
        "error_message",
    ]
    date_hierarchy = "started_at"
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) on millions of rows is slow

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
