"""proxysite.websockets.SameOriginValidator: who may open the dashboard's websocket.

A browser sends the admin's session cookie with any page's websocket
handshake, so the Origin must be the site's own (or explicitly listed) and
the Host one the site serves.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ImproperlyConfigured

from proxysite.websockets import SameOriginValidator


class Accepting(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()


def connects(
    origin: str | None, host: str | None = "127.0.0.1:8080", allowed: list[str] | None = None
) -> bool:
    app = SameOriginValidator(Accepting.as_asgi(), allowed or [])
    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if host is not None:
        headers.append((b"host", host.encode()))

    async def scenario() -> bool:
        socket = WebsocketCommunicator(app, "/ws/requests/", headers=headers)
        connected, _ = await socket.connect()
        await socket.disconnect()
        return connected

    return async_to_sync(scenario)()


def test_it_accepts_the_sites_own_origin():
    assert connects("http://127.0.0.1:8080")
    assert connects("http://localhost:8080", host="localhost:8080")


def test_it_refuses_a_page_on_another_local_port():
    assert not connects("http://127.0.0.1:9999")


def test_it_refuses_another_host_on_the_same_port():
    assert not connects("http://localhost:8080")
    assert not connects("http://attacker.example:8080")


def test_it_refuses_a_rebinding_page_whose_host_is_not_allowed():
    """Origin and Host agree, but the host name is the attacker's."""
    assert not connects("http://attacker.example:8080", host="attacker.example:8080")


def test_it_refuses_a_handshake_without_origin_or_with_a_null_one():
    assert not connects(None)
    assert not connects("null")


def test_it_understands_the_schemes_default_ports(settings):
    settings.ALLOWED_HOSTS = ["gw.example.com"]
    assert connects("https://gw.example.com", host="gw.example.com")
    assert connects("https://gw.example.com", host="gw.example.com:443")
    assert connects("http://gw.example.com", host="gw.example.com")
    assert not connects("https://gw.example.com:8443", host="gw.example.com")


def test_it_accepts_an_origin_listed_in_the_setting():
    listed = ["https://dash.example.com"]
    assert connects("https://dash.example.com", allowed=listed)
    assert not connects("https://dash.example.com:8443", allowed=listed)
    assert not connects("http://dash.example.com", allowed=listed)


def test_it_refuses_a_listed_origin_without_a_scheme():
    with pytest.raises(ImproperlyConfigured, match=r"dash\.example\.com"):
        SameOriginValidator(Accepting.as_asgi(), ["dash.example.com"])


@pytest.fixture
def application(transactional_db, monkeypatch, settings) -> Any:
    """`proxysite.asgi.application`, without the config poller thread (see test_live_feed)."""
    from routing import snapshot

    settings.SWITCHBOARD_AGENT_SCAN_SECONDS = 0
    monkeypatch.setattr(snapshot, "start_poller", lambda: None)
    from proxysite.asgi import application

    return application


def test_the_live_feed_refuses_a_staff_cookie_sent_from_another_port(application):
    from tests.test_live_feed import session_cookie

    cookie = session_cookie("operator", staff=True)

    async def scenario(origin: str) -> bool:
        socket = WebsocketCommunicator(
            application,
            "/ws/requests/",
            headers=[
                (b"origin", origin.encode()),
                (b"host", b"127.0.0.1:8080"),
                (b"cookie", cookie.encode()),
            ],
        )
        connected, _ = await socket.connect()
        if connected:
            await socket.disconnect()
        return connected

    assert not async_to_sync(scenario)("http://127.0.0.1:9999")
    assert async_to_sync(scenario)("http://127.0.0.1:8080")
