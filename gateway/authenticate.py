"""The authenticate stage: who may use the gateway, and with which credentials.

Runs before the body is read. In order:
1. `Host` must be one of SWITCHBOARD_ALLOWED_HOSTS (DNS rebinding).
2. A browser-originated request is refused: an `Origin` that is not in
   SWITCHBOARD_ALLOWED_ORIGINS, or a body type a web page may send without
   asking (text/plain, a form) on a request that carries no credential.
3. A gateway key (SWITCHBOARD_API_KEYS) is required when keys are set; the
   header that carried it is not forwarded. Only a request with a valid key
   may use stored provider credentials (`Exchange.key_verified`, checked by
   the attempts stage): closed by default.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse

from gateway.exchange import Exchange
from gateway.host_check import host_allowed, host_refusal_message
from gateway.keys import GATEWAY_KEY_HEADERS, gateway_key_header, keys_required
from providers.errors import AuthenticationFailed, InvalidRequest, PermissionDenied

#: Body types a web page may POST cross-origin without a CORS preflight.
BROWSER_SIMPLE_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")


def check_host(exchange: Exchange) -> None:
    host = exchange.header_map.get("host")
    if not host_allowed(host):
        raise InvalidRequest(host_refusal_message(host or ""))


def refuse_browsers(exchange: Exchange) -> None:
    headers = exchange.header_map
    origin = headers.get("origin")
    if origin is not None and origin not in settings.SWITCHBOARD_ALLOWED_ORIGINS:
        raise PermissionDenied(
            f"requests from web pages are refused (Origin {origin[:200]!r}); "
            "list the origin in SWITCHBOARD_ALLOWED_ORIGINS to allow it"
        )
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    carries_credential = any(name in headers for name in GATEWAY_KEY_HEADERS)
    if content_type in BROWSER_SIMPLE_TYPES and not carries_credential:
        raise InvalidRequest(
            f"content-type {content_type!r} is refused here without a key or credential "
            "header (a web page can send it); send application/json"
        )


def check_gateway_key(exchange: Exchange) -> None:
    key_header = gateway_key_header(exchange.headers)
    if key_header is None and keys_required():
        raise AuthenticationFailed(
            "this gateway requires a key: send it in x-switchboard-key "
            "(or x-api-key / Authorization: Bearer)"
        )
    exchange.authenticated(key_header)


async def authenticate(exchange: Exchange) -> HttpResponse | None:
    check_host(exchange)
    refuse_browsers(exchange)
    check_gateway_key(exchange)
    return None
