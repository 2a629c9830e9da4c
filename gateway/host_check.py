"""Is a request's `Host` one this gateway serves (SWITCHBOARD_ALLOWED_HOSTS)?

The gateway paths (/v1/*, the probes) are served without Django's middleware,
so Django's own Host check (in `HttpRequest.get_host()`, which only the site's
views call) never runs for them. Without this check a web page could reach a
gateway on 127.0.0.1 through DNS rebinding: the browser sends the page's own
host name (`Host: attacker.example`), which no loopback deployment lists.

The rules are Django's (`validate_host`, `split_domain_port`): `*` allows any
host, `.example.com` a domain and its subdomains, anything else must match
exactly; the port is ignored.

A request that names no host (HTTP/1.0 without `Host`, or an empty one) is
allowed: browsers always send the host they connected to, so such a request
cannot come from a rebinding page, and Django's own fallback for it (the
listening address) says nothing about what the client meant to reach.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.conf import settings
from django.http.request import split_domain_port, validate_host

#: What Django allows when DEBUG is on and ALLOWED_HOSTS is empty.
DEBUG_LOOPBACK_HOSTS = (".localhost", "127.0.0.1", "[::1]")


def host_allowed(host_header: str | None, allowed_hosts: Sequence[str] | None = None) -> bool:
    """True when `host_header` (the raw `Host` value, port included) may be served.

    `allowed_hosts` defaults to settings.ALLOWED_HOSTS (tests pass their own).
    """
    if not host_header:
        return True
    if allowed_hosts is None:
        allowed_hosts = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed_hosts:
            allowed_hosts = DEBUG_LOOPBACK_HOSTS
    domain, _port = split_domain_port(host_header)
    return bool(domain) and validate_host(domain, allowed_hosts)


def host_from_scope(scope: dict) -> str | None:
    """The `Host` header of an ASGI scope (HTTP or websocket), or None when absent."""
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers") or ()
    for name, value in headers:
        if name == b"host":
            return value.decode("latin-1")
    return None


def host_refusal_message(host_header: str) -> str:
    """The error message for a refused host: names it and the setting that allows it."""
    shown = host_header if len(host_header) <= 200 else host_header[:200] + "…"
    return (
        f"Host {shown!r} is not allowed by this gateway: "
        "add it to SWITCHBOARD_ALLOWED_HOSTS if it should be"
    )
