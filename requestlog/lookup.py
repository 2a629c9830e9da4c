"""Logged requests by id, for the routing admin's "Try a route" page.

`routing` may not import `requestlog`; the wiring (gateway/apps.py) hands
`logged_request` to `routing.try_route.set_logged_request_lookup`.
"""

from __future__ import annotations

from requestlog.models import RequestLog


def logged_request(request_id: str) -> tuple[bytes, dict[str, str]] | None:
    """The client's request body and (redacted) headers as logged; None if there is no row."""
    row = (
        RequestLog.objects.filter(request_id=request_id)
        .only("request_body", "request_headers")
        .first()
    )
    if row is None:
        return None
    headers = row.request_headers if isinstance(row.request_headers, dict) else {}
    return row.request_body.encode(), {str(k): str(v) for k, v in headers.items()}
