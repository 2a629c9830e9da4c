"""Limits before work: refusals from the request head, a capped chunked body, slow clients.

`manage.py serve` (proxysite/server.py) answers 413 and 401 before a body
arrives, stops a chunked upload at SWITCHBOARD_MAX_BODY_BYTES without
spooling the rest, and closes connections that send their headers too
slowly or stay idle. The gateway's ASGI handler refuses the same requests
before it reads their body under any server (proxysite/gateway_handler.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from proxysite.gateway_handler import GatewayASGIHandler
from requestlog.models import RequestLog
from requestlog.writer import log_writer
from tests.fakes.upstream import AnthropicStream, FakeUpstream
from tests.live_gateway import LiveGateway

CAP = 1024 * 1024  # SWITCHBOARD_MAX_BODY_BYTES for these tests
HUGE = 50 * 1024 * 1024  # what the client claims, or tries, to send
CHUNK = 64 * 1024
HEADER_TIMEOUT = 2  # SWITCHBOARD_HEADER_TIMEOUT_SECONDS for these tests
IDLE_TIMEOUT = 1  # SWITCHBOARD_IDLE_TIMEOUT_SECONDS for these tests
SLOW_CLIENTS = 50
SLOWLORIS_SECONDS = 8  # how long the slow clients keep trickling, at most
ANSWER_TIMEOUT = 10.0
GATEWAY_KEY = "gw-key-limits"


@pytest.fixture
def spool_dir(tmp_path) -> Path:
    """The server's TMPDIR, where Twisted spools request bodies past 100 KB."""
    path = tmp_path / "spool"
    path.mkdir()
    return path


@pytest.fixture
def serve(anthropic_provider, tmp_path, spool_dir) -> Iterator[LiveGateway]:
    gateway = LiveGateway(
        env={
            "SWITCHBOARD_MAX_BODY_BYTES": str(CAP),
            "SWITCHBOARD_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
            "SWITCHBOARD_IDLE_TIMEOUT_SECONDS": str(IDLE_TIMEOUT),
            "SWITCHBOARD_API_KEYS": GATEWAY_KEY,
            "TMPDIR": str(spool_dir),
        },
        log_dir=tmp_path,
        server="serve",
    ).start()
    yield gateway
    gateway.stop()


def request_head(port: int, headers: dict[str, str], path: str = "/v1/messages") -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(sock: socket.socket) -> tuple[int, dict]:
    """Status and JSON body of the answer, read until the server closes."""
    sock.settimeout(ANSWER_TIMEOUT)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def spooled_bytes(pid: int, spool_dir: Path) -> int:
    """Bytes in the files the server holds open under `spool_dir` (deleted ones too)."""
    total = 0
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(fd_dir / fd).startswith(str(spool_dir)):
                total += os.stat(fd_dir / fd).st_size
        except OSError:
            continue  # closed meanwhile
    return total


def only_row() -> RequestLog:
    [row] = RequestLog.objects.all()
    return row


def test_it_refuses_a_declared_oversize_body_before_it_is_sent(
    serve: LiveGateway, fake_upstream: FakeUpstream
):
    headers = {
        "x-switchboard-key": GATEWAY_KEY,
        "content-type": "application/json",
        "content-length": str(HUGE),
    }
    with socket.create_connection(("127.0.0.1", serve.port)) as sock:
        sock.sendall(request_head(serve.port, headers))  # and never a byte of the body
        status, body = read_answer(sock)

    assert status == 413
    assert body["error"]["type"] == "request_too_large"
    assert str(HUGE) in body["error"]["message"]
    assert fake_upstream.requests == []
    serve.stop()
    row = only_row()
    assert (row.status, row.outcome, row.endpoint) == (413, "client_error", "messages")


def test_it_refuses_a_request_without_a_key_before_its_body_is_sent(
    serve: LiveGateway, fake_upstream: FakeUpstream
):
    headers = {"content-type": "application/json", "content-length": str(HUGE)}
    with socket.create_connection(("127.0.0.1", serve.port)) as sock:
        sock.sendall(request_head(serve.port, headers))
        status, body = read_answer(sock)

    assert status == 401
    assert body["error"]["type"] == "authentication_error"
    assert fake_upstream.requests == []
    serve.stop()
    row = only_row()
    assert (row.status, row.outcome) == (401, "client_error")
    assert row.error_type == "authentication_error"


def test_it_stops_a_chunked_upload_at_the_cap_without_spooling_the_rest(
    serve: LiveGateway, spool_dir: Path
):
    assert serve.process is not None
    pid = serve.process.pid
    headers = {"x-switchboard-key": GATEWAY_KEY, "transfer-encoding": "chunked"}
    chunk = b"%x\r\n%s\r\n" % (CHUNK, b"x" * CHUNK)
    sent = most_spooled = 0
    answered = b""
    with socket.create_connection(("127.0.0.1", serve.port)) as sock:
        sock.sendall(request_head(serve.port, headers))
        try:
            while sent < HUGE:
                sock.sendall(chunk)
                sent += CHUNK
                most_spooled = max(most_spooled, spooled_bytes(pid, spool_dir))
                if select.select([sock], [], [], 0)[0]:
                    answered = sock.recv(65536)
                    break
        except OSError:
            pass  # the server closed the connection while we were still sending

    assert sent < HUGE / 2  # stopped long before the end
    assert most_spooled < 2 * CAP
    assert answered == b"" or answered.startswith(b"HTTP/1.1 413 ")
    serve.stop()
    row = only_row()
    assert (row.status, row.error_type) == (413, "request_too_large")


def test_it_closes_connections_that_send_their_headers_too_slowly(serve: LiveGateway):
    clients = [socket.create_connection(("127.0.0.1", serve.port)) for _ in range(SLOW_CLIENTS)]
    opened = time.monotonic()
    closed_after: dict[int, float] = {}
    try:
        for sock in clients:
            sock.setblocking(False)
            sock.send(b"POST /v1/messages HTTP/1.1\r\nx-slow: ")
        while len(closed_after) < SLOW_CLIENTS and time.monotonic() - opened < SLOWLORIS_SECONDS:
            for index, sock in enumerate(clients):
                if index in closed_after:
                    continue
                try:
                    sock.send(b"a")  # one more header byte each second
                    if select.select([sock], [], [], 0)[0] and sock.recv(65536) == b"":
                        closed_after[index] = time.monotonic() - opened
                except OSError:
                    closed_after[index] = time.monotonic() - opened
            assert httpx.get(serve.url + "/healthz", timeout=5).status_code == 200
            time.sleep(1)
    finally:
        for sock in clients:
            sock.close()

    assert len(closed_after) == SLOW_CLIENTS
    assert HEADER_TIMEOUT - 1 <= min(closed_after.values())
    assert max(closed_after.values()) < SLOWLORIS_SECONDS


def test_it_closes_a_keep_alive_connection_left_idle(serve: LiveGateway):
    with socket.create_connection(("127.0.0.1", serve.port)) as sock:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1:{serve.port}\r\n\r\n".encode())
        sock.settimeout(ANSWER_TIMEOUT)
        answer = b""
        while not answer.endswith(b"0\r\n\r\n"):  # the end of the chunked answer
            answer += sock.recv(65536)
        answered = time.monotonic()
        assert answer.startswith(b"HTTP/1.1 200 ")

        assert sock.recv(65536) == b""  # closed by the server, not by the timeout above
        assert time.monotonic() - answered >= IDLE_TIMEOUT / 2


def test_it_keeps_a_slow_answer_open_past_the_header_and_idle_timeouts(
    serve: LiveGateway, fake_upstream: FakeUpstream
):
    fake_upstream.set_default(AnthropicStream(("a", "b", "c"), delay=0.5))  # about 4 s
    body = {
        "model": "m",
        "max_tokens": 5,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }

    started = time.monotonic()
    response = httpx.post(
        serve.url + "/v1/messages",
        json=body,
        headers={"x-switchboard-key": GATEWAY_KEY},
        timeout=ANSWER_TIMEOUT,
    )

    assert time.monotonic() - started > HEADER_TIMEOUT + IDLE_TIMEOUT
    assert response.status_code == 200
    assert response.text.rstrip().endswith('data: {"type": "message_stop"}')


def test_the_asgi_handler_refuses_a_request_without_a_key_without_reading_its_body(
    settings, monkeypatch
):
    settings.SWITCHBOARD_API_KEYS = [GATEWAY_KEY]
    rows: list[dict] = []
    monkeypatch.setattr(log_writer, "enqueue", rows.append)
    sent: list[dict] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/messages",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"10")],
        "client": ("127.0.0.1", 1234),
    }

    async def receive() -> dict:
        raise AssertionError("the body was read")

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(GatewayASGIHandler()(scope, receive, send))

    assert sent[0]["status"] == 401
    assert json.loads(sent[1]["body"])["error"]["type"] == "authentication_error"
    [row] = rows
    assert (row["status"], row["outcome"], row["endpoint"]) == (401, "client_error", "messages")
    assert (b"x-switchboard-request-id", row["request_id"].encode()) in sent[0]["headers"]
