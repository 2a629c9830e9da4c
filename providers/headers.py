"""Which headers cross the gateway, in each direction."""

from __future__ import annotations

from collections.abc import Iterable

#: RFC 9110 hop-by-hop headers, plus those the HTTP client sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)

#: Client headers never forwarded upstream (ours, or what we set ourselves).
NOT_FORWARDED = HOP_BY_HOP | {"accept-encoding", "cookie"}

#: Upstream response headers not relayed to the client.
NOT_RELAYED = HOP_BY_HOP | {"content-encoding", "date", "server", "set-cookie", "alt-svc"}

#: Headers that carry credentials, redacted wherever headers are stored.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "cookie",
        "set-cookie",
        "x-goog-api-key",
    }
)
SECRET_HINTS = ("key", "token", "secret", "password", "auth")
REDACTED = "[redacted]"


def forwardable(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Client headers worth sending upstream, lower-cased, ours removed."""
    return [
        (name, value)
        for name, value in ((n.lower(), v) for n, v in headers)
        if name not in NOT_FORWARDED and not name.startswith("x-switchboard-")
    ]


def with_extra_headers(
    headers: list[tuple[str, str]], extra: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """`headers` with a provider's configured extra headers added, replacing same-named ones."""
    extra = [(name.lower(), value) for name, value in extra]
    if not extra:
        return headers
    replaced = {name for name, _ in extra}
    return [(n, v) for n, v in headers if n not in replaced] + extra


def relayable(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Upstream response headers to pass back to the client."""
    return [(n, v) for n, v in headers if n.lower() not in NOT_RELAYED]


def is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_HEADERS or any(hint in lowered for hint in SECRET_HINTS)


def redact(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers safe to store: every credential-bearing value replaced."""
    return {
        name.lower(): (REDACTED if is_secret_header(name) else value) for name, value in headers
    }
