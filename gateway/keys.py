"""Gateway keys (SWITCHBOARD_API_KEYS): which header carries one, checked in constant time.

Pure helpers over a request's headers, usable both by the authenticate stage
and by the server before it reads a body (so an unauthenticated client
cannot make the gateway read, let alone spool, a large upload).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence

from django.conf import settings

from providers.config import ProviderConfig

#: Headers that may carry a gateway key, in the order they are looked at.
GATEWAY_KEY_HEADERS = ("x-switchboard-key", "x-api-key", "authorization")
BEARER_PREFIX = "bearer "


def configured_keys() -> Sequence[str]:
    """The keys clients may send; empty when none are configured."""
    return settings.SWITCHBOARD_API_KEYS


def keys_required() -> bool:
    return bool(configured_keys())


def idle_stored_credentials(providers: Iterable[ProviderConfig]) -> list[str]:
    """Providers whose stored credentials are never used, because no gateway key is set.

    Stored credentials serve only requests with a valid gateway key (closed by
    default): without SWITCHBOARD_API_KEYS they are dead weight, and a gateway
    in that state should say so.
    """
    if keys_required():
        return []
    return sorted(provider.name for provider in providers if provider.credentials)


def idle_credentials_warning(names: Sequence[str]) -> str:
    return (
        f"providers {', '.join(names)} hold stored credentials, but SWITCHBOARD_API_KEYS is "
        "not set: stored credentials are only attached to requests with a gateway key, so "
        "these are never used (clients' own credentials are forwarded instead)"
    )


def _candidate(name: str, value: str) -> str:
    if name == "authorization" and value[: len(BEARER_PREFIX)].lower() == BEARER_PREFIX:
        return value[len(BEARER_PREFIX) :].strip()
    return value.strip()


def _is_valid(candidate: str, keys: Sequence[str]) -> bool:
    # Compare with every key (no early exit), so timing says nothing about which matched.
    encoded = candidate.encode("utf-8", "surrogateescape")
    found = False
    for key in keys:
        found |= hmac.compare_digest(encoded, key.encode())
    return found


def gateway_key_header(headers: Iterable[tuple[str, str]]) -> str | None:
    """The (lower-case) name of the header that carries a valid gateway key, or None."""
    keys = configured_keys()
    if not keys:
        return None
    for name, value in headers:
        lowered = name.lower()
        if lowered in GATEWAY_KEY_HEADERS and _is_valid(_candidate(lowered, value), keys):
            return lowered
    return None


def raw_headers_carry_key(raw_headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """True when ASGI-style (bytes) headers carry a valid gateway key."""
    return (
        gateway_key_header(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers
        )
        is not None
    )
