"""Daphne's access log, with credential-like query values redacted.

Daphne prints each request's path with its query string. A client that puts
a key in the URL (`?key=…`, as some SDKs do for other vendors) would have it
printed; this logger writes the path as the request log stores it.
"""

from __future__ import annotations

from typing import Any

from daphne.access import AccessLogGenerator

from gateway.record import logged_path


class RedactingAccessLog(AccessLogGenerator):
    def __call__(self, protocol: Any, action: str, details: dict[str, Any]) -> None:
        path = details.get("path")
        if isinstance(path, str) and "?" in path:
            base, _, query = path.partition("?")
            details = {**details, "path": logged_path(base, query)}
        super().__call__(protocol, action, details)
