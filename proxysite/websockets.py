"""Websocket routes (the dashboard's live request feed) and who may open them.

A browser sends the session cookie with a websocket handshake whatever page
opened it, so the origin check is what keeps another site's page (or one on
another local port) from reading the feed with the admin's cookie. Channels'
AllowedHostsOriginValidator compares the Origin's host name with
ALLOWED_HOSTS only, ignoring ports and the site itself; SameOriginValidator
accepts a handshake only when its `Host` is allowed (gateway/host_check.py)
and its Origin is the site's own (scheme-default ports understood) or one
listed in SWITCHBOARD_ALLOWED_ORIGINS.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import ParseResult, urlparse

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.core.exceptions import ImproperlyConfigured
from django.http.request import split_domain_port
from django.urls import path

from gateway.host_check import host_allowed, host_from_scope
from requestlog.consumers import RequestFeedConsumer

websocket_urlpatterns: list = [
    path("ws/requests/", RequestFeedConsumer.as_asgi()),
]


class SameOriginValidator(OriginValidator):
    """Let a websocket handshake through only from the site's own origin, or a listed one.

    `allowed_origins` are full origins (`https://dash.example.com`, a port when
    not the scheme's default); a handshake without Origin is refused.
    """

    def __init__(self, application: Any, allowed_origins: list[str]) -> None:
        # Full origins only: a bare host name would match any port, which is
        # exactly what this validator is for refusing.
        for origin in allowed_origins:
            if not urlparse(origin).scheme:
                raise ImproperlyConfigured(
                    f"SWITCHBOARD_ALLOWED_ORIGINS: {origin!r} is not scheme://host[:port]"
                )
        super().__init__(application, allowed_origins)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator only guards websocket connections")
        host = host_from_scope(scope)
        origin = _parsed_origin(scope)
        if host_allowed(host) and origin is not None:
            if (host and self.same_origin(origin, host)) or self.validate_origin(origin):
                return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)

    def same_origin(self, origin: ParseResult, host: str) -> bool:
        """The Origin names the host and port the client connected to (the Host header)."""
        domain, port = split_domain_port(host)
        if not domain or not origin.hostname:
            return False
        origin_port = self.get_origin_port(origin)
        host_port = int(port) if port else self.get_origin_port(urlparse(f"{origin.scheme}://x"))
        return origin.hostname == domain.strip("[]") and origin_port == host_port


def _parsed_origin(scope: dict) -> ParseResult | None:
    for name, value in scope.get("headers") or ():
        if name == b"origin":
            try:
                return urlparse(value.decode("latin-1").lower())
            except ValueError:
                return None
    return None
