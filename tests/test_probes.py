"""gateway.probes: the Host check, /metrics and /readyz's details, unreadable credentials.

Driven through the real middleware-free gateway handler with hand-made ASGI
scopes, so the client address (scope["client"]) can be any address.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from asgiref.sync import async_to_sync
from cryptography.fernet import Fernet

from providers.accounts import accounts
from proxysite.gateway_handler import GatewayASGIHandler
from routing import snapshot
from routing.models import Credential, Provider

LOCAL = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.7", 50000)
TOKEN = "metrics-token-for-tests"


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return orjson.loads(self.body)


def call(
    path: str,
    *,
    client: tuple[str, int] = LOCAL,
    host: str | None = "127.0.0.1:8080",
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> Answer:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if host is not None:
        raw.append((b"host", host.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": client,
        "server": ("127.0.0.1", 8080),
    }
    sent: list[dict] = []
    requested = False

    async def run() -> None:
        done = asyncio.Event()

        async def receive() -> dict:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # the client stays until the answer is complete
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await GatewayASGIHandler()(scope, receive, send)

    async_to_sync(run)()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    names = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return Answer(start["status"], names, body)


@pytest.fixture
def fresh_snapshot(db, monkeypatch) -> None:
    """A snapshot loaded from this test's database, forgotten afterwards."""
    monkeypatch.setattr(snapshot, "_current", None)
    monkeypatch.setattr(snapshot, "_unreadable", ())


# --- Host -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/api/hello"])
def test_it_refuses_a_probe_for_a_host_that_is_not_allowed(fresh_snapshot, path):
    answer = call(path, host="attacker.example:8080")

    assert answer.status == 400
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert "Host 'attacker.example:8080' is not allowed" in error["error"]["message"]


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost:8080", None])
def test_it_answers_a_probe_for_an_allowed_host_or_none(host):
    answer = call("/healthz", host=host)
    assert (answer.status, answer.json()) == (200, {"status": "ok"})


# --- /readyz --------------------------------------------------------------------------------


def test_readyz_shows_only_the_status_to_a_remote_client(fresh_snapshot):
    answer = call("/readyz", client=REMOTE)
    assert (answer.status, answer.json()) == (200, {"status": "ok"})


def test_readyz_shows_the_details_to_a_local_client(fresh_snapshot):
    answer = call("/readyz", client=LOCAL)

    assert answer.status == 200
    body = answer.json()
    assert body["checks"] == {"database": "ok", "routing_config": "ok", "credentials": "ok"}
    assert body["cooling_accounts"] == [] and body["unreadable_credentials"] == []
    assert "config_version" in body


def test_readyz_shows_the_details_with_the_metrics_token(fresh_snapshot, settings):
    settings.SWITCHBOARD_METRICS_TOKEN = TOKEN
    answer = call("/readyz", client=REMOTE, headers={"authorization": f"Bearer {TOKEN}"})
    assert "checks" in answer.json()
    wrong = call("/readyz", client=REMOTE, headers={"authorization": "Bearer nope"})
    assert wrong.json() == {"status": "ok"}


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded", "x-real-ip"])
def test_readyz_hides_the_details_from_a_local_proxy_relaying_a_client(fresh_snapshot, header):
    answer = call("/readyz", client=LOCAL, headers={header: "203.0.113.7"})
    assert answer.json() == {"status": "ok"}


def test_readyz_fails_naming_a_credential_the_key_cannot_decrypt(fresh_snapshot, caplog):
    provider = Provider.objects.get(name="anthropic")
    other_key = Fernet(Fernet.generate_key())
    Credential.objects.create(
        provider=provider,
        label="house",
        encrypted_secret=other_key.encrypt(b"sk-ant-secret-value").decode(),
    )
    good = Credential(provider=provider, label="spare")
    good.set_secret("sk-ant-readable")
    good.save()
    snapshot.load()

    local = call("/readyz", client=LOCAL)
    public = call("/readyz", client=REMOTE)

    assert local.status == 503
    body = local.json()
    assert body["status"] == "unavailable"
    assert body["unreadable_credentials"] == ["anthropic/house"]
    assert "anthropic/house" in body["checks"]["credentials"]
    assert "spare" not in body["checks"]["credentials"]
    assert b"sk-ant" not in local.body
    assert (public.status, public.json()) == (503, {"status": "unavailable"})
    assert "cannot be decrypted with SWITCHBOARD_ENCRYPTION_KEY" in caplog.text
    assert "anthropic/house" in caplog.text and "sk-ant" not in caplog.text


def test_a_disabled_credential_does_not_fail_readyz(fresh_snapshot):
    provider = Provider.objects.get(name="anthropic")
    Credential.objects.create(
        provider=provider, label="old", encrypted_secret="garbage", enabled=False
    )
    snapshot.load()
    assert call("/readyz").status == 200


def test_readyz_warns_that_stored_credentials_without_gateway_keys_are_never_used(
    fresh_snapshot, settings
):
    settings.SWITCHBOARD_API_KEYS = []
    credential = Credential(provider=Provider.objects.get(name="anthropic"), label="team")
    credential.set_secret("sk-ant-stored")
    credential.save()
    snapshot.load()

    answer = call("/readyz", client=LOCAL)

    assert answer.status == 200  # a warning, not a failure
    (warning,) = answer.json()["warnings"]
    assert warning.startswith("providers anthropic hold stored credentials, but SWITCHBOARD_API")
    assert "sk-ant" not in warning
    settings.SWITCHBOARD_API_KEYS = ["gw-key"]
    assert call("/readyz", client=LOCAL).json()["warnings"] == []


# --- /metrics -------------------------------------------------------------------------------


def test_metrics_is_refused_to_a_remote_client_without_a_token():
    answer = call("/metrics", client=REMOTE)

    assert answer.status == 403
    assert answer.json()["error"]["type"] == "permission_error"
    assert "SWITCHBOARD_METRICS_TOKEN" in answer.json()["error"]["message"]


@pytest.mark.parametrize("client", [LOCAL, ("::1", 50000), ("::ffff:127.0.0.1", 50000)])
def test_metrics_is_served_to_a_local_client(client):
    answer = call("/metrics", client=client)
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain")


def test_metrics_is_refused_to_a_local_proxy_relaying_a_client():
    answer = call("/metrics", client=LOCAL, headers={"x-forwarded-proto": "https"})
    assert answer.status == 403


def test_metrics_requires_the_token_when_one_is_set(settings):
    settings.SWITCHBOARD_METRICS_TOKEN = TOKEN

    with_token = call("/metrics", client=REMOTE, headers={"authorization": f"bearer {TOKEN}"})
    local_without = call("/metrics", client=LOCAL)
    wrong = call("/metrics", client=REMOTE, headers={"authorization": f"Bearer {TOKEN}x"})

    assert with_token.status == 200
    assert local_without.status == 401
    assert local_without.headers["www-authenticate"] == "Bearer"
    assert local_without.json()["error"]["type"] == "authentication_error"
    assert wrong.status == 401


def test_a_probe_that_fails_answers_json_not_an_html_page(fresh_snapshot, monkeypatch):
    """Probes run outside the /v1 boundary: Django's error view of the gateway's URLconf
    (gateway.fallback_errors) answers for them."""

    def broken() -> dict:
        raise RuntimeError("injected")

    monkeypatch.setattr(accounts, "cooling", broken)

    answer = call("/readyz", client=LOCAL)

    assert answer.status == 500
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "type": "error",
        "error": {"type": "api_error", "message": "internal gateway error"},
    }
