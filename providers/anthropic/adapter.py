"""Anthropic-format providers: the request goes out as the client sent it.

The body is forwarded byte for byte when routing kept the model, and
re-encoded with only `model` replaced when it did not. Client headers are
forwarded (hop-by-hop ones dropped); the client's own `x-api-key` or
`Authorization` (Claude subscription OAuth tokens included) goes through
unless the provider holds a stored credential, which then replaces it.
Answers are relayed byte for byte; a copy of a stream is decoded for the log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from providers.anthropic.foreign_thinking import strip_foreign_thinking
from providers.base import Call, Prepared
from providers.config import CredentialConfig, ProviderConfig
from providers.errors import error_body, error_type_for_status
from providers.headers import forwardable, with_extra_headers
from providers.json_body import encode_body
from providers.sse import SSEDecoder, SSELineTooLong
from providers.transport import UpstreamRequest, UpstreamResponse

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
    return encode_body({**payload, "model": target})


def upstream_headers(
    client_headers: list[tuple[str, str]],
    provider: ProviderConfig,
    credential: CredentialConfig | None,
) -> list[tuple[str, str]]:
    headers = forwardable(client_headers)
    if credential is not None:
        headers = [(n, v) for n, v in headers if n not in CLIENT_AUTH_HEADERS]
        headers.append(("x-api-key", credential.secret))
    headers = with_extra_headers(headers, provider.extra_headers)
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


def anthropic_error_from(status: int, body: bytes) -> dict[str, Any]:
    """The upstream's error if it is Anthropic-shaped, else one made from its text."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if (
        isinstance(parsed, dict)
        and parsed.get("type") == "error"
        and isinstance(parsed.get("error"), dict)
        and isinstance(parsed["error"].get("type"), str)
    ):
        parsed["error"].setdefault("message", "")
        return parsed
    text = body.decode("utf-8", "replace").strip()
    message = f"upstream answered HTTP {status}" + (f": {text[:500]}" if text else "")
    return error_body(error_type_for_status(status), message)


class AnthropicAdapter:
    wire_format = "anthropic"

    def _prepared(self, call: Call, path: str) -> Prepared:
        payload, removed = strip_foreign_thinking(call.payload)
        if removed:
            call.notes.append(
                f"removed {removed} thinking block(s) another provider produced "
                "(no Anthropic signature)"
            )
            body = encode_body({**payload, "model": call.target_model})
        else:
            body = body_for_model(
                call.raw_body, call.payload, call.requested_model, call.target_model
            )
        return Prepared(
            request=build_request(
                method="POST",
                path=path,
                query=call.query,
                body=body,
                client_headers=call.client_headers,
                provider=call.provider,
                credential=call.credential,
            ),
            translated=False,
        )

    def messages_request(self, call: Call) -> Prepared:
        return self._prepared(call, call.path)

    def count_tokens_request(self, call: Call) -> Prepared | None:
        return self._prepared(call, call.path)

    async def relay_stream(self, upstream: UpstreamResponse, call: Call) -> AsyncIterator[bytes]:
        decoder: SSEDecoder | None = SSEDecoder()
        async for chunk in upstream.aiter_raw():
            if not chunk:
                continue
            yield chunk
            if decoder is None:
                continue
            try:
                for event in decoder.feed(chunk):
                    call.message.feed(event)
            except SSELineTooLong:
                decoder = None  # keep relaying; the log keeps what it has
        if decoder is not None:
            for event in decoder.flush():
                call.message.feed(event)

    def message_body(self, body: bytes, call: Call) -> tuple[bytes, dict[str, Any] | None]:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body, None
        return body, parsed if isinstance(parsed, dict) else None

    def error_body(self, status: int, body: bytes, content_type: str) -> tuple[int, dict]:
        return status, anthropic_error_from(status, body)
