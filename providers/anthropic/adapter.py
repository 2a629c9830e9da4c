"""Anthropic-format providers: the request goes out as the client sent it.

The body is forwarded byte for byte when routing kept the model, and
re-encoded with only `model` replaced when it did not. Client headers are
forwarded (hop-by-hop ones dropped); the client's own `x-api-key` or
`Authorization` (Claude subscription OAuth tokens included) goes through
unless the provider holds a stored credential, which then replaces it.
"""

from __future__ import annotations

from typing import Any

import orjson

from providers.headers import forwardable
from providers.transport import UpstreamRequest
from routing.config import CredentialConfig, ProviderConfig

CLIENT_AUTH_HEADERS = frozenset({"x-api-key", "authorization"})


def upstream_url(base_url: str, path: str, query: str = "") -> str:
    """base_url + path, keeping a path prefix in base_url and not doubling `/v1`."""
    base = base_url.rstrip("/")
    if base.endswith("/v1") and (path == "/v1" or path.startswith("/v1/")):
        base = base[: -len("/v1")]
    url = base + path
    return f"{url}?{query}" if query else url


def body_for_model(raw_body: bytes, payload: dict[str, Any], requested: str, target: str) -> bytes:
    """The raw body when the model is unchanged; else every field kept, model replaced."""
    if target == requested:
        return raw_body
    return orjson.dumps({**payload, "model": target})


def upstream_headers(
    client_headers: list[tuple[str, str]],
    provider: ProviderConfig,
    credential: CredentialConfig | None,
) -> list[tuple[str, str]]:
    headers = forwardable(client_headers)
    if credential is not None:
        headers = [(n, v) for n, v in headers if n not in CLIENT_AUTH_HEADERS]
        headers.append(("x-api-key", credential.secret))
    extra = dict(provider.extra_headers)
    if extra:
        lowered = {k.lower() for k in extra}
        headers = [(n, v) for n, v in headers if n not in lowered]
        headers.extend((k.lower(), v) for k, v in extra.items())
    # The relay forwards bytes and the log parses them: ask for no compression.
    headers.append(("accept-encoding", "identity"))
    return headers


def build_request(
    *,
    method: str,
    path: str,
    query: str,
    body: bytes,
    client_headers: list[tuple[str, str]],
    provider: ProviderConfig,
    credential: CredentialConfig | None,
) -> UpstreamRequest:
    return UpstreamRequest(
        method=method,
        url=upstream_url(provider.base_url, path, query),
        headers=upstream_headers(client_headers, provider, credential),
        body=body,
        connect_timeout=provider.connect_timeout,
        read_timeout=provider.read_timeout,
        provider=provider.name,
    )
