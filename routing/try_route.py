"""The admin page that shows where a request would be routed, and why.

It can replay a logged request, but `routing` may not import `requestlog`
(the layering in SPEC.md): the log is reached through a lookup function that
the wiring installs with `set_logged_request_lookup()` (gateway/apps.py), and
reading it takes the permission to view request logs, as the log does.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from providers.anthropic.validate import parse_json_object, validate_messages_request
from providers.errors import InvalidRequest
from routing import snapshot
from routing.explain import explain

#: A logged request's body and headers, or None when there is no such request.
LoggedRequest = tuple[bytes, dict[str, str]]
LoggedRequestLookup = Callable[[str], LoggedRequest | None]
#: What the page needs: seeing the rules it explains.
VIEW_RULES = "routing.view_routingrule"
#: What replaying a logged request needs: its body is in the log.
VIEW_LOG = "requestlog.view_requestlog"

_lookup_logged_request: LoggedRequestLookup | None = None


def set_logged_request_lookup(lookup: LoggedRequestLookup | None) -> None:
    """Install the function that finds a logged request by id (None: none installed)."""
    global _lookup_logged_request
    _lookup_logged_request = lookup


def find_logged_request(request_id: str) -> LoggedRequest:
    """A logged request's body and headers; InvalidRequest when it cannot be found."""
    if _lookup_logged_request is None:
        raise InvalidRequest("the request log cannot be read here")
    found = _lookup_logged_request(request_id)
    if found is None:
        raise InvalidRequest(f"no logged request {request_id!r}")
    return found


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

    def parsed(self, may_read_log: bool) -> tuple[dict, dict[str, str]]:
        request_id = self.cleaned_data.get("request_id", "").strip()
        if request_id:
            if not may_read_log:
                raise InvalidRequest(
                    "replaying a logged request needs the permission to view request logs"
                )
            body, headers = find_logged_request(request_id)
            headers = dict(headers)
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
    if not request.user.has_perm(VIEW_RULES):
        raise PermissionDenied("Trying a route needs the permission to view routing rules.")
    form = TryRouteForm(request.POST or None)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Try a route",
        "opts": model_admin.model._meta,
        "form": form,
    }
    if request.method == "POST" and form.is_valid():
        try:
            payload, headers = form.parsed(request.user.has_perm(VIEW_LOG))
            context["result"] = explain(payload, headers, snapshot.build())
        except InvalidRequest as exc:
            context["problem"] = exc.message
    return TemplateResponse(request, "admin/routing/try_route.html", context)
