"""Which headers are forwarded, relayed, and hidden when stored."""

from __future__ import annotations

import pytest

from providers.headers import REDACTED, forwardable, is_secret_header, redact, relayable


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "authorization",
        "Proxy-Authorization",
        "X-Api-Key",
        "api-key",
        "x-goog-api-key",
        "Cookie",
        "Set-Cookie",
        "X-Custom-Token",
        "x-amz-security-token",
        "X-My-Secret",
        "openai-api-key",
        "x-access-key-id",
        "x-db-password",
        "x-auth-user",
    ],
)
def test_it_redacts_credential_bearing_headers(name: str) -> None:
    assert is_secret_header(name)
    assert redact([(name, "sk-live-123")]) == {name.lower(): REDACTED}


@pytest.mark.parametrize(
    "name",
    [
        "content-type",
        "anthropic-version",
        "anthropic-beta",
        "user-agent",
        "x-request-id",
        "x-claude-code-session-id",
        "keep-alive",
    ],
)
def test_it_keeps_ordinary_headers_when_redacting(name: str) -> None:
    assert not is_secret_header(name)
    assert redact([(name, "value")]) == {name: "value"}


def test_it_redacts_a_mixed_list_lower_casing_names() -> None:
    stored = redact(
        [
            ("Content-Type", "application/json"),
            ("X-Api-Key", "sk-ant-secret"),
            ("Authorization", "Bearer sk-ant-oat01"),
            ("Anthropic-Version", "2023-06-01"),
        ]
    )
    assert stored == {
        "content-type": "application/json",
        "x-api-key": REDACTED,
        "authorization": REDACTED,
        "anthropic-version": "2023-06-01",
    }
    assert "sk-ant" not in repr(stored)


RESPONSE_HEADERS = [
    ("Content-Type", "text/event-stream"),
    ("Content-Encoding", "gzip"),
    ("content-length", "42"),
    ("Transfer-Encoding", "chunked"),
    ("Connection", "keep-alive"),
    ("Keep-Alive", "timeout=5"),
    ("Date", "Mon, 01 Jan 2029 00:00:00 GMT"),
    ("Server", "cloudflare"),
    ("Set-Cookie", "__cf_bm=x"),
    ("Alt-Svc", 'h3=":443"'),
    ("request-id", "req_1"),
    ("anthropic-ratelimit-requests-remaining", "49"),
    ("Retry-After", "3"),
]


def test_it_relays_response_headers_without_hop_by_hop_and_content_encoding() -> None:
    assert relayable(RESPONSE_HEADERS) == [
        ("Content-Type", "text/event-stream"),
        ("request-id", "req_1"),
        ("anthropic-ratelimit-requests-remaining", "49"),
        ("Retry-After", "3"),
    ]


def test_it_forwards_client_headers_lower_cased_and_in_order() -> None:
    assert forwardable(
        [
            ("Host", "localhost"),
            ("Content-Length", "5"),
            ("Accept-Encoding", "gzip"),
            ("Cookie", "a=b"),
            ("TE", "trailers"),
            ("X-Switchboard-Route", "x"),
            ("Anthropic-Beta", "a"),
            ("anthropic-beta", "b"),
            ("X-Api-Key", "k"),
        ]
    ) == [("anthropic-beta", "a"), ("anthropic-beta", "b"), ("x-api-key", "k")]
