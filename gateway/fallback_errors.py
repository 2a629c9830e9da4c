"""Django's error views for the gateway's URLconf: JSON, never an HTML page.

The boundary answers everything raised inside a /v1/* view. These cover what
Django itself refuses before or around a view (a request it cannot parse, an
exception while it sends a response), so even then the client gets an
Anthropic-shaped error.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from gateway.responses import bare_error_response
from providers.errors import error_type_for_status


def _answer(status: int, message: str) -> HttpResponse:
    return bare_error_response(status, error_type_for_status(status), message, "")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(400, "the request could not be read")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(403, "permission denied")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(404, f"no such endpoint: {request.path[:200]}")


def server_error(request: HttpRequest) -> HttpResponse:
    return _answer(500, "internal gateway error")
