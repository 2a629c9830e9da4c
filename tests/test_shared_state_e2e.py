"""Two workers sharing Redis: cooldowns and config changes reach the other worker at once."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from django.contrib.auth.models import User

from routing.models import Credential
from tests.clients import KEY_HEADER, KEYED_GATEWAY
from tests.fakes.upstream import anthropic_error
from tests.live_gateway import free_port

BODY = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
# Poll rarely and scan no agent files, so only Redis can carry news in time.
QUIET = {"SWITCHBOARD_CONFIG_POLL_SECONDS": "60", "SWITCHBOARD_AGENT_SCAN_SECONDS": "0"}


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A throwaway redis-server on 127.0.0.1 (CI installs Debian's redis-server)."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (apt-get install redis-server)"
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def wait_until(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def readyz(gateway) -> dict:
    return httpx.get(gateway.url + "/readyz", timeout=5).json()


def test_an_account_cooled_down_by_one_worker_is_skipped_by_the_other(
    anthropic_provider, start_gateway, fake_upstream, redis_url
):
    for label in ("a", "b"):
        credential = Credential(provider=anthropic_provider, label=label)
        credential.set_secret(f"sk-account-{label}")
        credential.save()
    # Stored accounts are only used with a gateway key.
    one = start_gateway(REDIS_URL=redis_url, **QUIET, **KEYED_GATEWAY)
    two = start_gateway(REDIS_URL=redis_url, **QUIET, **KEYED_GATEWAY)
    fake_upstream.queue(
        anthropic_error(429, "rate_limit_error", "slow down", headers={"retry-after": "30"})
    )

    first = httpx.post(one.url + "/v1/messages", json=BODY, headers=KEY_HEADER, timeout=10)
    assert first.status_code == 200
    wait_until(lambda: "anthropic/a" in readyz(two)["cooling_accounts"])
    httpx.post(two.url + "/v1/messages", json=BODY, headers=KEY_HEADER, timeout=10)

    keys = [r.headers["x-api-key"] for r in fake_upstream.requests]
    # one: a (429) then b; two: would start with a on its own, but knows a is resting.
    assert keys == ["sk-account-a", "sk-account-b", "sk-account-b"]


def admin_session(gateway, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=gateway.url, timeout=10, follow_redirects=False)
    page = client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = client.post(
        "/admin/login/",
        data={
            "csrfmiddlewaretoken": token,
            "username": username,
            "password": password,
            "next": "/admin/",
        },
    )
    assert done.status_code == 302, done.text[:500]
    return client


def test_an_alias_saved_in_one_workers_admin_routes_at_the_other_worker_at_once(
    anthropic_provider, start_gateway, fake_upstream, redis_url
):
    User.objects.create_superuser("ops", "ops@example.com", "pw-for-tests-only")
    one = start_gateway(REDIS_URL=redis_url, **QUIET)
    two = start_gateway(REDIS_URL=redis_url, **QUIET)
    before = readyz(two)["config_version"]
    browser = admin_session(one, "ops", "pw-for-tests-only")
    form = browser.get("/admin/routing/modelalias/add/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)

    saved = browser.post(
        "/admin/routing/modelalias/add/",
        data={
            "csrfmiddlewaretoken": token,
            "alias": "quick",
            "provider": anthropic_provider.pk,
            "target_model": "claude-quick",
            "fallbacks": "[]",
            "enabled": "on",
        },
    )
    browser.close()

    assert saved.status_code == 302, saved.text[:1000]
    wait_until(lambda: readyz(two)["config_version"] > before, timeout=3)
    response = httpx.post(two.url + "/v1/messages", json={**BODY, "model": "quick"}, timeout=10)
    assert response.headers["x-switchboard-route"] == "alias"
    assert fake_upstream.requests[-1].json()["model"] == "claude-quick"
