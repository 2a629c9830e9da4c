"""Anthropic adapter: upstream URL, body with the routed model, upstream headers."""

from __future__ import annotations

import orjson
import pytest

from providers.anthropic.adapter import (
    body_for_model,
    build_request,
    upstream_headers,
    upstream_url,
)
from routing.config import CredentialConfig, ProviderConfig


def provider(extra_headers: tuple[tuple[str, str], ...] = ()) -> ProviderConfig:
    return ProviderConfig(
        name="anthropic",
        wire_format="anthropic",
        base_url="https://api.anthropic.com",
        connect_timeout=3.0,
        read_timeout=300.0,
        extra_headers=extra_headers,
    )


STORED = CredentialConfig(label="team", secret="sk-ant-stored")


@pytest.mark.parametrize(
    ("base", "path", "query", "url"),
    [
        ("https://api.anthropic.com", "/v1/messages", "", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com/", "/v1/messages", "", "https://api.anthropic.com/v1/messages"),
        (
            "https://gw.example/anthropic",
            "/v1/messages",
            "",
            "https://gw.example/anthropic/v1/messages",
        ),
        (
            "https://gw.example/anthropic/",
            "/v1/messages",
            "",
            "https://gw.example/anthropic/v1/messages",
        ),
        ("https://gw.example/v1", "/v1/messages", "", "https://gw.example/v1/messages"),
        ("https://gw.example/v1/", "/v1/messages", "", "https://gw.example/v1/messages"),
        ("https://gw.example/api/v1", "/v1/messages", "", "https://gw.example/api/v1/messages"),
        (
            "https://gw.example/v1",
            "/v1/messages/count_tokens",
            "",
            "https://gw.example/v1/messages/count_tokens",
        ),
        ("https://gw.example/v10", "/v1/messages", "", "https://gw.example/v10/v1/messages"),
        ("https://gw.example/apiv1", "/v1/messages", "", "https://gw.example/apiv1/v1/messages"),
        ("https://gw.example/v1", "/v1models", "", "https://gw.example/v1/v1models"),
        (
            "https://api.anthropic.com",
            "/v1/messages",
            "beta=true",
            "https://api.anthropic.com/v1/messages?beta=true",
        ),
        (
            "https://gw.example/v1/",
            "/v1/messages",
            "beta=true&x=1",
            "https://gw.example/v1/messages?beta=true&x=1",
        ),
    ],
)
def test_it_joins_the_base_url_and_path(base: str, path: str, query: str, url: str) -> None:
    assert upstream_url(base, path, query) == url


RAW = (
    b'{ "model" : "claude-sonnet-4-5",  "max_tokens": 64,\n'
    b' "messages": [{"role": "user", "content": "h\\u00e9"}] }'
)


def test_it_returns_the_same_bytes_object_when_the_model_is_unchanged() -> None:
    payload = orjson.loads(RAW)
    assert body_for_model(RAW, payload, "claude-sonnet-4-5", "claude-sonnet-4-5") is RAW


def test_it_replaces_only_the_model_when_it_changed() -> None:
    payload = {
        "model": "fast",
        "max_tokens": 64,
        "system": [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "héllo 😀", "cache_control": {"type": "ephemeral"}}
                ],
            }
        ],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "stream": True,
        "unknown_future_field": {"nested": [1, None, 2.5]},
    }
    body = body_for_model(orjson.dumps(payload), payload, "fast", "llama-3.3-70b")
    assert orjson.loads(body) == {**payload, "model": "llama-3.3-70b"}
    assert payload["model"] == "fast"  # the caller's payload is left alone


CLIENT_HEADERS = [
    ("Host", "localhost:8000"),
    ("Content-Length", "123"),
    ("Connection", "keep-alive"),
    ("Keep-Alive", "timeout=5"),
    ("Transfer-Encoding", "chunked"),
    ("TE", "trailers"),
    ("Upgrade", "h2c"),
    ("Proxy-Authorization", "Basic eA=="),
    ("Cookie", "session=abc"),
    ("Accept-Encoding", "gzip, br"),
    ("X-Switchboard-Provider", "groq"),
    ("x-switchboard-debug", "1"),
    ("Content-Type", "application/json"),
    ("anthropic-version", "2023-06-01"),
    ("anthropic-beta", "prompt-caching-2024-07-31"),
    ("anthropic-beta", "interleaved-thinking-2025-05-14"),
    ("User-Agent", "claude-cli/2.0.0"),
    ("x-api-key", "sk-ant-client"),
    ("Authorization", "Bearer sk-ant-oat01-client"),
]


def test_it_forwards_client_headers_lower_cased_without_hop_by_hop_ones() -> None:
    assert upstream_headers(CLIENT_HEADERS, provider(), None) == [
        ("content-type", "application/json"),
        ("anthropic-version", "2023-06-01"),
        ("anthropic-beta", "prompt-caching-2024-07-31"),
        ("anthropic-beta", "interleaved-thinking-2025-05-14"),
        ("user-agent", "claude-cli/2.0.0"),
        ("x-api-key", "sk-ant-client"),
        ("authorization", "Bearer sk-ant-oat01-client"),
        ("accept-encoding", "identity"),
    ]


def test_it_asks_for_identity_encoding_exactly_once() -> None:
    headers = upstream_headers([("accept-encoding", "gzip")], provider(), None)
    assert [v for n, v in headers if n == "accept-encoding"] == ["identity"]


def test_it_forwards_the_client_credentials_when_the_provider_has_none() -> None:
    headers = dict(upstream_headers([("X-Api-Key", "sk-client")], provider(), None))
    assert headers["x-api-key"] == "sk-client"
    headers = dict(upstream_headers([("Authorization", "Bearer oat")], provider(), None))
    assert headers["authorization"] == "Bearer oat"


def test_it_replaces_the_client_credentials_with_the_stored_secret() -> None:
    headers = upstream_headers(CLIENT_HEADERS, provider(), STORED)
    assert [(n, v) for n, v in headers if n in ("x-api-key", "authorization")] == [
        ("x-api-key", "sk-ant-stored")
    ]
    assert "sk-ant-client" not in repr(headers)
    assert "oat01-client" not in repr(headers)


def test_it_adds_the_stored_secret_when_the_client_sent_no_credentials() -> None:
    headers = upstream_headers([("anthropic-version", "2023-06-01")], provider(), STORED)
    assert ("x-api-key", "sk-ant-stored") in headers


def test_it_lets_provider_extra_headers_override_client_headers() -> None:
    extra = (("Anthropic-Beta", "context-1m-2025-08-07"), ("X-Org", "acme"))
    headers = upstream_headers(CLIENT_HEADERS, provider(extra), None)
    assert [v for n, v in headers if n == "anthropic-beta"] == ["context-1m-2025-08-07"]
    assert ("x-org", "acme") in headers
    assert ("anthropic-version", "2023-06-01") in headers


def test_it_lets_provider_extra_headers_override_the_stored_secret() -> None:
    headers = upstream_headers([], provider((("x-api-key", "from-extra"),)), STORED)
    assert [v for n, v in headers if n == "x-api-key"] == ["from-extra"]


def test_it_builds_a_request_from_the_provider() -> None:
    prov = ProviderConfig(
        name="gw",
        wire_format="anthropic",
        base_url="https://gw.example/v1/",
        connect_timeout=2.5,
        read_timeout=90.0,
    )
    request = build_request(
        method="POST",
        path="/v1/messages",
        query="beta=true",
        body=b"{}",
        client_headers=[("x-api-key", "k"), ("host", "h")],
        provider=prov,
        credential=None,
    )
    assert request.method == "POST"
    assert request.url == "https://gw.example/v1/messages?beta=true"
    assert request.headers == [("x-api-key", "k"), ("accept-encoding", "identity")]
    assert request.body == b"{}"
    assert request.connect_timeout == 2.5
    assert request.read_timeout == 90.0
    assert request.provider == "gw"
