"""Shared fixtures.

- `fake_upstream`, `second_upstream`: scripted fake providers on 127.0.0.1 (tests/fakes).
- `anthropic_provider`: the default `anthropic` provider, pointed at the fake.
- `start_gateway`: starts the gateway as a real Daphne process on the test
  database, after the test has written its config; stopped at teardown.
- `gateway`: the usual case, already started, with only `anthropic_provider`.
- `log_rows`: stops the gateway (the writer flushes) and returns its rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from routing.models import Provider
from tests.clients import close_all
from tests.fakes.fixtures import fake_upstream
from tests.fakes.upstream import FakeUpstream
from tests.live_gateway import LiveGateway

__all__ = ["fake_upstream"]


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    """Close every client made with tests.clients when the test ends."""
    yield
    close_all()


@pytest.fixture
def anthropic_provider(transactional_db, fake_upstream: FakeUpstream) -> Provider:
    provider, _ = Provider.objects.update_or_create(
        name="anthropic",
        defaults={
            "wire_format": "anthropic",
            "base_url": fake_upstream.url,
            "is_default": True,
            "enabled": True,
        },
    )
    return provider


@pytest.fixture
def second_upstream() -> Iterator[FakeUpstream]:
    """Another fake provider, for fallbacks and translated targets."""
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def start_gateway(transactional_db, tmp_path) -> Iterator[Callable[..., LiveGateway]]:
    started: list[LiveGateway] = []
    # Gateways of one test share Redis news; other tests' never reach them.
    redis_prefix = f"switchboard-test-{uuid.uuid4().hex[:12]}"

    def start(**env: str) -> LiveGateway:
        env = {"SWITCHBOARD_REDIS_PREFIX": redis_prefix, **env}
        gateway = LiveGateway(env=env, log_dir=tmp_path).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(anthropic_provider, start_gateway) -> LiveGateway:
    return start_gateway()


@pytest.fixture
def log_rows(gateway: LiveGateway):
    """Call to stop the gateway (flushing its writer) and get every log row, oldest first."""
    from requestlog.models import RequestLog

    def read() -> list[RequestLog]:
        gateway.stop()
        return list(RequestLog.objects.order_by("started_at", "id"))

    return read


@pytest.fixture
def log_rows_for_stopped(transactional_db):
    """Stop a gateway started with `start_gateway` and return every log row, oldest first."""
    from requestlog.models import RequestLog

    def read(gateway: LiveGateway) -> list[RequestLog]:
        gateway.stop()
        return list(RequestLog.objects.order_by("started_at", "id"))

    return read
