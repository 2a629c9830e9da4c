"""Admin for the request log (read-only) and the model prices (editable)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from requestlog.models import ModelPrice, RequestLog


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


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = [
        "model_pattern",
        "provider_pattern",
        "input_per_mtok",
        "output_per_mtok",
        "cache_read_per_mtok",
        "cache_write_per_mtok",
        "currency",
        "priority",
        "enabled",
    ]
    list_editable = ["enabled"]
    list_filter = ["enabled", "currency"]
    search_fields = ["model_pattern", "provider_pattern", "note"]
    fieldsets = [
        (None, {"fields": ["model_pattern", "provider_pattern", "priority", "enabled"]}),
        (
            "Per million tokens",
            {
                "fields": [
                    "currency",
                    "input_per_mtok",
                    "output_per_mtok",
                    "cache_read_per_mtok",
                    "cache_write_per_mtok",
                ]
            },
        ),
        (None, {"fields": ["note"]}),
    ]
