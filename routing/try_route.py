"""The admin page that shows where a request would be routed, and why."""

from __future__ import annotations

import orjson
from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from providers.anthropic.validate import parse_json_object, validate_messages_request
from providers.errors import InvalidRequest
from routing import snapshot
from routing.explain import explain

EXAMPLE = orjson.dumps(
    {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hello"}],
    },
    option=orjson.OPT_INDENT_2,
).decode()


class TryRouteForm(forms.Form):
    request_id = forms.CharField(
        required=False,
        label="or a logged request id",
        help_text="sbreq_… from the request log; its body and headers are used.",
    )
    body = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 18, "cols": 100}),
        initial=EXAMPLE,
        label="Request body (JSON)",
    )
    headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 100}),
        help_text="One `name: value` per line, e.g. x-claude-code-agent-id: 1a2b",
    )

    def parsed(self) -> tuple[dict, dict[str, str]]:
        from requestlog.models import RequestLog

        request_id = self.cleaned_data.get("request_id", "").strip()
        if request_id:
            row = RequestLog.objects.filter(request_id=request_id).first()
            if row is None:
                raise InvalidRequest(f"no logged request {request_id!r}")
            body, headers = row.request_body.encode(), dict(row.request_headers)
        else:
            body, headers = self.cleaned_data.get("body", "").encode(), {}
            for line in self.cleaned_data.get("headers", "").splitlines():
                name, sep, value = line.partition(":")
                if sep and name.strip():
                    headers[name.strip().lower()] = value.strip()
        payload = parse_json_object(body)
        validate_messages_request(payload, need_max_tokens=False)
        return payload, headers


def try_route_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    form = TryRouteForm(request.POST or None)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Try a route",
        "opts": model_admin.model._meta,
        "form": form,
    }
    if request.method == "POST" and form.is_valid():
        try:
            payload, headers = form.parsed()
            context["result"] = explain(payload, headers, snapshot.build())
        except InvalidRequest as exc:
            context["problem"] = exc.message
    return TemplateResponse(request, "admin/routing/try_route.html", context)
