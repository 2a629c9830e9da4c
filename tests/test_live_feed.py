"""The live feed: `/ws/requests/`, for staff who may read the log, pushes stored rows.

Driven through the real ASGI application (origin check, session auth, URL
routing) with Channels' WebsocketCommunicator. Rows are published from
another thread, as the log writer does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission, User
from django.test import Client

from requestlog import live
from requestlog.models import RequestLog
from requestlog.writer import LogWriter
from routing import snapshot
from tests.test_dashboard import log_row

RECEIVE_TIMEOUT = 5


@pytest.fixture
def application(transactional_db, monkeypatch, settings):
    """`proxysite.asgi.application`, imported without the config poller thread.

    Importing the module runs `warm_up()`: its poller thread would go on
    reading (and its agent scan writing) the test database during later tests
    of this process, so neither is started here.
    """
    settings.SWITCHBOARD_AGENT_SCAN_SECONDS = 0
    monkeypatch.setattr(snapshot, "start_poller", lambda: None)
    from proxysite.asgi import application

    return application


async def receive(socket: WebsocketCommunicator, what: str) -> dict[str, Any]:
    try:
        return await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)
    except (TimeoutError, asyncio.CancelledError):
        pytest.fail(f"nothing was pushed within {RECEIVE_TIMEOUT}s: {what}")


async def close(socket: WebsocketCommunicator) -> None:
    if not socket.future.done():
        await socket.disconnect()


def session_cookie(username: str, *, staff: bool, can_read_log: bool = True) -> str:
    user = User.objects.create_user(username, password="pw-for-tests-only", is_staff=staff)
    if can_read_log:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="requestlog", codename="view_requestlog")
        )
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def communicator(application: Any, cookie: str | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/requests/", headers=headers)


def test_an_anonymous_connection_is_refused(application):
    async def scenario() -> None:
        socket = communicator(application)
        connected, _ = await socket.connect()
        assert not connected

    async_to_sync(scenario)()


def test_a_signed_in_user_who_is_not_staff_is_refused(application):
    cookie = session_cookie("visitor", staff=False)

    async def scenario() -> None:
        socket = communicator(application, cookie)
        connected, _ = await socket.connect()
        assert not connected

    async_to_sync(scenario)()


def test_a_staff_user_without_the_log_permission_is_refused(application):
    cookie = session_cookie("staffer", staff=True, can_read_log=False)

    async def scenario() -> None:
        socket = communicator(application, cookie)
        connected, _ = await socket.connect()
        assert not connected

    async_to_sync(scenario)()


def test_published_rows_reach_a_staff_connection_as_escaped_table_rows(application):
    cookie = session_cookie("operator", staff=True)
    row = log_row(requested_model="claude-<b>bold</b>", provider="anthropic", subagent="tester")

    async def scenario() -> dict[str, Any]:
        socket = communicator(application, cookie)
        connected, _ = await socket.connect()
        assert connected
        try:
            # From another thread, as the log writer calls it.
            await asyncio.to_thread(live.publish_rows, [row])
            return await receive(socket, "publish_rows() sent nothing")
        finally:
            await close(socket)

    message = async_to_sync(scenario)()
    [pushed] = message["rows"]
    assert pushed["request_id"] == row["request_id"]
    assert pushed["provider"] == "anthropic" and pushed["subagent"] == "tester"
    assert pushed["status"] == 200 and pushed["is_error"] is False
    assert pushed["html"].startswith('<tr class="request-row"')
    assert f"/requests/{row['request_id']}/" in pushed["html"]
    assert "claude-&lt;b&gt;bold&lt;/b&gt;" in pushed["html"]


def test_a_row_stored_by_the_log_writer_is_pushed(application):
    """The real path: LogWriter writes a batch, then publishes it to the feed."""
    cookie = session_cookie("operator", staff=True)
    row = log_row(requested_model="claude-opus-4-1")
    writer = LogWriter()

    async def scenario() -> dict[str, Any]:
        socket = communicator(application, cookie)
        connected, _ = await socket.connect()
        assert connected
        try:
            writer.enqueue(row)
            assert await asyncio.to_thread(writer.flush)
            return await receive(
                socket,
                "is LogWriter._publish wired to requestlog.live.publish_rows(batch)?",
            )
        finally:
            await close(socket)
            await asyncio.to_thread(writer.shutdown)

    message = async_to_sync(scenario)()
    assert RequestLog.objects.filter(request_id=row["request_id"]).exists()
    assert [pushed["request_id"] for pushed in message["rows"]] == [row["request_id"]]
    assert "claude-opus-4-1" in message["rows"][0]["html"]


def test_publishing_never_raises(application, caplog):
    cookie = session_cookie("operator", staff=True)

    async def scenario() -> None:
        socket = communicator(application, cookie)
        assert (await socket.connect())[0]
        try:
            # Not a row at all: logged, not raised into the writer's thread.
            await asyncio.to_thread(live.publish_rows, [{"started_at": object()}, 42])  # type: ignore[list-item]
            await asyncio.to_thread(live.publish_rows, [])
        finally:
            await close(socket)

    async_to_sync(scenario)()
    assert "could not publish" in caplog.text
    # With no dashboard open and the in-memory layer, there is nothing to do.
    live.publish_rows([log_row()])


def test_a_worker_without_a_websocket_still_publishes_through_a_shared_layer(
    application, monkeypatch
):
    """With Redis, the writer of one worker reaches the websockets of the others.

    Simulated by making the live feed forget this process's listener: the row
    must then travel through the channel layer itself (async_to_sync from the
    writer's thread). The in-memory layer cannot reach another process, so it
    sends nothing.
    """
    cookie = session_cookie("operator", staff=True)
    row = log_row()
    shared = not isinstance(get_channel_layer(), InMemoryChannelLayer)

    async def scenario() -> dict[str, Any] | None:
        socket = communicator(application, cookie)
        assert (await socket.connect())[0]
        try:
            monkeypatch.setattr(live, "_loop", None)
            monkeypatch.setattr(live, "_listeners", 0)
            await asyncio.to_thread(live.publish_rows, [row])
            if shared:
                return await receive(socket, "publish_rows() did not use the channel layer")
            assert await socket.receive_nothing(timeout=0.5)
            return None
        finally:
            await close(socket)

    message = async_to_sync(scenario)()
    if shared:
        assert message is not None
        assert message["rows"][0]["request_id"] == row["request_id"]


def test_rows_written_as_the_process_exits_are_dropped_from_the_feed_quietly(monkeypatch, caplog):
    def exiting(rows):
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(live, "_publish", exiting)
    with caplog.at_level("INFO", logger="requestlog.live"):
        live.publish_rows([{"request_id": "r1"}])

    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "not sent to the live feed" in caplog.text
    assert "Traceback" not in caplog.text
