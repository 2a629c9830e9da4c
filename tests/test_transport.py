"""Both upstream clients behind the Transport interface behave the same, errors included."""

from __future__ import annotations

import asyncio
import threading

import pytest

from providers.errors import UpstreamConnectError, UpstreamProtocolError, UpstreamTimeout
from providers.transport import TRANSPORTS, UpstreamRequest
from tests.fakes.upstream import anthropic_error, anthropic_stream, hang, reset_after, slow_stream

pytestmark = pytest.mark.parametrize("client", sorted(TRANSPORTS))


def request(url: str, *, read_timeout: float = 10.0, stream: bool = True) -> UpstreamRequest:
    body = b'{"model":"m","max_tokens":5,"stream":%s,"messages":[]}' % (
        b"true" if stream else b"false"
    )
    return UpstreamRequest(
        method="POST",
        url=url + "/v1/messages?beta=true",
        headers=[
            ("content-type", "application/json"),
            ("x-api-key", "k"),
            ("accept-encoding", "identity"),
        ],
        body=body,
        connect_timeout=2.0,
        read_timeout=read_timeout,
        provider="fake",
    )


def run(client: str, scenario):
    """Run `scenario(transport)` on a fresh loop, closing the transport's pool after."""

    async def main():
        transport = TRANSPORTS[client]()
        try:
            return await scenario(transport)
        finally:
            await transport.aclose()

    return asyncio.run(main())


def test_it_sends_the_request_as_given(client, fake_upstream):
    async def go(transport):
        response = await transport.send(request(fake_upstream.url, stream=False))
        body = await response.aread()
        await response.aclose()
        return response.status, body

    status, body = run(client, go)

    assert status == 200 and b'"type":"message"' in body.replace(b" ", b"")
    received = fake_upstream.requests[0]
    assert received.query_string == "beta=true" and received.headers["x-api-key"] == "k"
    assert received.headers["accept-encoding"] == "identity"


def test_it_hands_over_stream_chunks_before_the_upstream_finishes(client, fake_upstream):
    release = threading.Event()
    fake_upstream.queue(anthropic_stream(("a", "b"), pause_after=2, release=release))

    async def go(transport):
        response = await transport.send(request(fake_upstream.url))
        seen = b""
        chunks = response.aiter_raw()
        while b"content_block_start" not in seen:
            seen += await chunks.__anext__()
        early = fake_upstream.requests[0].finished.is_set()
        release.set()
        async for chunk in chunks:
            seen += chunk
        await response.aclose()
        return early, seen

    try:
        early, seen = run(client, go)
    finally:
        release.set()
    assert early is False
    assert seen.rstrip().endswith(b'{"type": "message_stop"}')


def test_an_error_status_is_a_response_not_an_exception(client, fake_upstream):
    fake_upstream.queue(
        anthropic_error(529, "overloaded_error", "busy", headers={"retry-after": "3"})
    )

    async def go(transport):
        response = await transport.send(request(fake_upstream.url, stream=False))
        await response.aread()
        await response.aclose()
        return response.status, dict((k.lower(), v) for k, v in response.headers)

    status, headers = run(client, go)
    assert status == 529 and headers["retry-after"] == "3"


def test_a_refused_connection_is_an_upstream_connect_error(client):
    async def go(transport):
        await transport.send(request("http://127.0.0.1:9"))

    with pytest.raises(UpstreamConnectError, match="could not connect to provider 'fake'"):
        run(client, go)


def test_a_silent_upstream_is_an_upstream_timeout(client, fake_upstream):
    fake_upstream.queue(hang(5))

    async def go(transport):
        await transport.send(request(fake_upstream.url, read_timeout=0.3))

    with pytest.raises(UpstreamTimeout):
        run(client, go)


def test_a_stream_cut_by_the_upstream_raises_a_protocol_error(client, fake_upstream):
    fake_upstream.queue(reset_after(3))

    async def go(transport):
        response = await transport.send(request(fake_upstream.url))
        try:
            async for _ in response.aiter_raw():
                pass
        finally:
            await response.aclose()

    with pytest.raises(UpstreamProtocolError, match="broke"):
        run(client, go)


def test_closing_a_stream_early_drops_the_upstream_connection(client, fake_upstream):
    fake_upstream.queue(slow_stream(interval=0.05))

    async def go(transport):
        response = await transport.send(request(fake_upstream.url))
        chunks = response.aiter_raw()
        await chunks.__anext__()
        await chunks.aclose()
        await response.aclose()

    run(client, go)
    assert fake_upstream.requests[0].disconnected.wait(5)
