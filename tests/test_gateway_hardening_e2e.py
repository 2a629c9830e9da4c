"""What the security probe found on /v1/*, each written to fail on the old request path.

Closed by default, browser-originated requests, Host, passthrough path escapes,
control characters in headers, credentials in the query string, an HTML 200,
and nesting past what the JSON encoder writes.
"""

from __future__ import annotations

import http.client

import httpx
import orjson
import pytest

from requestlog.models import Outcome, RequestLog
from routing.models import Credential, Provider
from tests.clients import KEY_HEADER, KEYED_GATEWAY
from tests.fakes.upstream import openai_completion, raw

HELLO = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}
STORED_KEY = "sk-ant-stored-secret"


def post(gateway, body=HELLO, *, path="/v1/messages", headers=None, content=None):
    headers = {"content-type": "application/json", **(headers or {})}
    data = content if content is not None else orjson.dumps(body)
    return httpx.post(gateway.url + path, content=data, headers=headers, timeout=20)


def get_raw_path(gateway, path: str) -> tuple[int, bytes]:
    """GET a path exactly as written (http.client does not normalise it)."""
    host, port = gateway.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def stored_credential(anthropic_provider) -> Credential:
    credential = Credential(provider=anthropic_provider, label="team")
    credential.set_secret(STORED_KEY)
    credential.save()
    return credential


# --- closed by default ---------------------------------------------------------------------
def test_a_stored_credential_is_not_used_without_a_gateway_key(
    stored_credential, start_gateway, fake_upstream, log_rows_for_stopped
):
    gateway = start_gateway()

    response = post(gateway)  # no header at all, as a web page's no-cors POST would be

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert "gateway key" in response.json()["error"]["message"]
    assert fake_upstream.requests == []
    (row,) = log_rows_for_stopped(gateway)
    assert row.status == 401
    assert row.attempts[0]["error"].startswith("provider 'anthropic' uses credentials stored")


def test_without_a_gateway_key_only_the_clients_own_credential_goes(
    stored_credential, start_gateway, fake_upstream
):
    gateway = start_gateway()

    response = post(gateway, headers={"x-api-key": "sk-ant-client-own"})

    assert response.status_code == 200
    assert fake_upstream.requests[0].headers["x-api-key"] == "sk-ant-client-own"


def test_with_a_gateway_key_the_stored_credential_replaces_the_clients(
    stored_credential, start_gateway, fake_upstream
):
    gateway = start_gateway(**KEYED_GATEWAY)

    response = post(gateway, headers={**KEY_HEADER, "x-api-key": "sk-ant-client-own"})

    assert response.status_code == 200
    received = fake_upstream.requests[0].headers
    assert received["x-api-key"] == STORED_KEY
    assert "x-switchboard-key" not in received


def test_a_translated_target_with_a_stored_key_needs_a_gateway_key(
    anthropic_provider, transactional_db, second_upstream, start_gateway
):
    provider = Provider.objects.create(
        name="oai", wire_format="openai", preset="openai", base_url=second_upstream.url + "/v1"
    )
    credential = Credential(provider=provider, label="main")
    credential.set_secret("sk-openai-stored")
    credential.save()
    gateway = start_gateway()
    second_upstream.queue(openai_completion("hi"))

    refused = post(gateway, {**HELLO, "model": "oai,gpt-4.1"}, headers={"x-api-key": "sk-ant-x"})

    assert refused.status_code == 401
    assert second_upstream.requests == []


# --- browsers, Host ------------------------------------------------------------------------
def test_a_request_from_a_web_page_is_refused(gateway, fake_upstream):
    response = post(gateway, headers={"origin": "http://evil.example", "x-api-key": "k"})

    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
    assert "SWITCHBOARD_ALLOWED_ORIGINS" in response.json()["error"]["message"]
    assert fake_upstream.requests == []


def test_an_allowed_origin_may_call(anthropic_provider, start_gateway, fake_upstream):
    gateway = start_gateway(SWITCHBOARD_ALLOWED_ORIGINS="http://tool.internal")

    response = post(gateway, headers={"origin": "http://tool.internal", "x-api-key": "k"})

    assert response.status_code == 200


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_type_a_page_can_send_without_asking_is_refused(
    gateway, fake_upstream, content_type
):
    response = post(gateway, headers={"content-type": content_type})

    assert response.status_code == 400
    assert "send application/json" in response.json()["error"]["message"]
    assert fake_upstream.requests == []


def test_a_host_that_is_not_allowed_is_refused(gateway, fake_upstream, log_rows):
    response = post(gateway, headers={"host": "attacker.example"})

    assert response.status_code == 400
    assert "'attacker.example' is not allowed" in response.json()["error"]["message"]
    assert fake_upstream.requests == []
    (row,) = log_rows()
    assert row.outcome == Outcome.CLIENT_ERROR


# --- the passthrough -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/v1/..%2f..%2fsecret-admin",
        "/v1/../../secret-admin",
        "/v1/files%3Fbeta=true",
        "/v1/files%23x",
        "/v1/%2e%2e/admin",
        "/v1/files/./x",
        "/v1/files\\..\\x",
    ],
)
def test_the_passthrough_refuses_a_path_that_could_leave_the_base(gateway, fake_upstream, path):
    status, body = get_raw_path(gateway, path)

    assert status == 400, body[:200]
    assert orjson.loads(body)["error"]["message"].startswith("path ")
    assert fake_upstream.requests == []


def test_the_passthrough_still_reaches_ordinary_paths(gateway, fake_upstream):
    response = httpx.get(gateway.url + "/v1/files/file-abc.txt?limit=2", timeout=20)

    assert response.status_code == 200
    assert fake_upstream.requests[0].path == "/v1/files/file-abc.txt"


# --- headers, query string, odd answers ----------------------------------------------------
@pytest.mark.parametrize("model", ["claude\rx", "claude\u0000x", "claude\nx\u0085y"])
def test_control_characters_never_reach_a_response_header(gateway, fake_upstream, model):
    response = post(gateway, {**HELLO, "model": model})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    for value in response.headers.values():
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)


def test_a_key_in_the_query_string_is_not_stored(gateway, fake_upstream, log_rows):
    post(gateway, path="/v1/messages?beta=true&key=sk-secret&api_key=sk-other")

    (row,) = log_rows()
    assert "sk-secret" not in row.path and "sk-other" not in row.path
    assert row.path == "/v1/messages?beta=true&key=%5Bredacted%5D&api_key=%5Bredacted%5D"
    assert fake_upstream.requests[0].query_string == "beta=true&key=sk-secret&api_key=sk-other"


@pytest.mark.parametrize("stream", [False, True])
def test_an_html_page_with_a_200_becomes_a_502(gateway, fake_upstream, log_rows, stream):
    fake_upstream.queue(raw(b"<html><body>Sign in</body></html>", content_type="text/html"))

    response = post(gateway, {**HELLO, "stream": stream})

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "api_error"
    assert "text/html" in error["message"] and "Sign in" in error["message"]
    (row,) = log_rows()
    assert row.outcome == Outcome.UPSTREAM_ERROR
    assert "Sign in" in row.upstream_response_body


def nested(depth: int) -> str:
    """JSON text of arrays nested `depth` deep (too deep for orjson to write)."""
    return "[" * depth + "1" + "]" * depth


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
@pytest.mark.parametrize("depth", [260, 1000])
def test_nesting_too_deep_to_re_encode_is_a_400_naming_the_place(gateway, path, depth):
    placeholder = {
        **HELLO,
        "messages": [
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": "NESTED"}}
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
            },
        ],
    }

    body = orjson.dumps(placeholder).replace(b'"NESTED"', nested(depth).encode())

    response = post(gateway, path=path, content=body)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("messages.1.content.0.input: ")


def test_every_request_above_has_one_row_even_when_refused_early(gateway, fake_upstream):
    ids = [
        post(gateway, headers={"origin": "http://evil.example"}).headers[
            "x-switchboard-request-id"
        ],
        post(gateway, headers={"host": "attacker.example"}).headers["x-switchboard-request-id"],
        post(gateway, content=b"{").headers["x-switchboard-request-id"],
    ]
    gateway.stop()
    assert sorted(RequestLog.objects.values_list("request_id", flat=True)) == sorted(ids)


def test_the_gateway_says_at_start_that_stored_credentials_without_keys_go_unused(
    stored_credential, start_gateway
):
    gateway = start_gateway()
    gateway.stop()

    assert "providers anthropic hold stored credentials, but SWITCHBOARD_API_KEYS" in (
        gateway.output()
    )
    assert STORED_KEY not in gateway.output()


def test_a_preflight_for_a_foreign_host_is_not_answered_as_ok(gateway):
    ok = httpx.head(gateway.url + "/", timeout=10)
    foreign = httpx.head(gateway.url + "/", headers={"host": "attacker.example"}, timeout=10)

    assert ok.status_code == 200
    assert foreign.status_code == 400
