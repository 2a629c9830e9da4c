"""A lean mock LLM provider: HTTP/1.1 keep-alive on a bare asyncio Protocol.

`POST /v1/messages` answers in Anthropic format, `POST /v1/chat/completions`
in OpenAI format: a JSON answer, or an SSE stream of `--chunks` text deltas
(`"stream": true` in the body) with `--chunk-delay-ms` between deltas.
`GET /healthz` answers 200. Every answer is encoded once at start, so a
request costs one header scan, one small JSON parse and one write.

A bare Protocol rather than aiohttp.web (access log off): measured with
bench.loadgen, it spent 31-37 µs of CPU per JSON answer against aiohttp's
86-91 µs, and 320-410 µs per 20-chunk stream against 490-700 µs.
Only what the benchmark needs is spoken: Content-Length bodies (no chunked
uploads), no pipelining of a second request before the first is answered.

    python -m bench.mock_upstream --port 9100 --chunks 20 --chunk-delay-ms 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from dataclasses import dataclass

import orjson

from bench.wire import WIRES, Wire

DEFAULT_PORT = 9100
DEFAULT_CHUNKS = 20
DEFAULT_CHUNK_DELAY_MS = 1.0
HOST = "127.0.0.1"
#: Pending connections the kernel keeps; 256 clients connecting at once must not overflow it.
LISTEN_BACKLOG = 4096
#: A request head larger than this is refused with 431 and the connection closed.
MAX_HEAD_BYTES = 64 * 1024
#: A request body larger than this is refused with 413 and the connection closed.
MAX_BODY_BYTES = 64 * 1024 * 1024
HEALTH_PATH = "/healthz"

HEAD_END = b"\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"


def chunk_frame(data: bytes) -> bytes:
    """`data` as one HTTP/1.1 chunked-encoding frame."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def json_response(status: str, body: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


def error_response(status: str, error_type: str, message: str) -> bytes:
    """An Anthropic-shaped error answer."""
    body = orjson.dumps({"type": "error", "error": {"type": error_type, "message": message}})
    return json_response(status, body)


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
HEALTH_RESPONSE = json_response("200 OK", b'{"status":"ok"}')


@dataclass(frozen=True)
class CannedAnswers:
    """One wire format's answers, encoded for the socket."""

    message: bytes
    #: Written at once: headers, stream start and the first delta.
    stream_first: bytes
    #: Written one by one, after a pause each.
    stream_rest: tuple[bytes, ...]
    stream_end: bytes
    #: The whole stream in one write, used when there is no delay.
    stream_whole: bytes

    @classmethod
    def build(cls, wire: Wire, chunks: int) -> CannedAnswers:
        parts = wire.stream(chunks)
        frames = [chunk_frame(d) for d in parts.deltas]
        first = STREAM_HEAD + chunk_frame(parts.head) + (frames[0] if frames else b"")
        end = chunk_frame(parts.tail) + LAST_CHUNK
        return cls(
            message=json_response("200 OK", wire.message(chunks)),
            stream_first=first,
            stream_rest=tuple(frames[1:]),
            stream_end=end,
            stream_whole=first + b"".join(frames[1:]) + end,
        )


@dataclass(frozen=True)
class MockConfig:
    chunks: int = DEFAULT_CHUNKS
    chunk_delay_s: float = DEFAULT_CHUNK_DELAY_MS / 1000


@dataclass(frozen=True)
class RequestHead:
    method: bytes
    path: bytes
    content_length: int
    keep_alive: bool
    chunked: bool


def parse_head(head: bytes) -> RequestHead | None:
    """The request line and the headers the mock cares about; None if unreadable."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    content_length, chunked = 0, False
    keep_alive = version == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            try:
                content_length = int(value)
            except ValueError:
                return None
        elif name == b"connection":
            token = value.strip().lower()
            keep_alive = token != b"close" and (keep_alive or token == b"keep-alive")
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    path = target.split(b"?", 1)[0]
    return RequestHead(method, path, content_length, keep_alive, chunked)


def wants_stream(body: bytes) -> bool:
    if b'"stream"' not in body:  # skip the parse for the common JSON case
        return False
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(payload, dict) and payload.get("stream") is True


class MockProtocol(asyncio.Protocol):
    """One client connection: parse a request, answer it, repeat while kept alive."""

    def __init__(self, answers: dict[bytes, CannedAnswers], config: MockConfig) -> None:
        self._answers = answers
        self._config = config
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._streaming: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._streaming is not None:
            self._streaming.cancel()
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._streaming is None:
            self._serve_buffered()

    def _serve_buffered(self) -> None:
        """Answer every complete request in the buffer (one at a time while streaming)."""
        while self._transport is not None and self._streaming is None:
            end = self._buffer.find(HEAD_END)
            if end == -1:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    self._refuse("431 Request Header Fields Too Large", "request head too large")
                return
            head = parse_head(bytes(self._buffer[:end]))
            if head is None:
                self._refuse("400 Bad Request", "unreadable request head")
                return
            if head.chunked:
                self._refuse("411 Length Required", "send a content-length body")
                return
            if head.content_length > MAX_BODY_BYTES:
                self._refuse("413 Content Too Large", "request body too large")
                return
            body_start = end + len(HEAD_END)
            body_end = body_start + head.content_length
            if len(self._buffer) < body_end:
                return
            body = bytes(self._buffer[body_start:body_end])
            del self._buffer[:body_end]
            self._answer(head, body)

    def _answer(self, head: RequestHead, body: bytes) -> None:
        transport = self._transport
        assert transport is not None
        answers = self._answers.get(head.path)
        if head.method == b"GET" and head.path == HEALTH_PATH.encode():
            transport.write(HEALTH_RESPONSE)
        elif answers is None or head.method != b"POST":
            transport.write(
                error_response(
                    "404 Not Found", "not_found_error", f"no route {head.path.decode()!r}"
                )
            )
        elif not wants_stream(body):
            transport.write(answers.message)
        elif self._config.chunk_delay_s <= 0 or not answers.stream_rest:
            transport.write(answers.stream_whole)
        else:
            transport.write(answers.stream_first)
            self._streaming = asyncio.ensure_future(self._stream_rest(answers, head.keep_alive))
            return
        if not head.keep_alive:
            transport.close()

    async def _stream_rest(self, answers: CannedAnswers, keep_alive: bool) -> None:
        delay = self._config.chunk_delay_s
        try:
            for frame in answers.stream_rest:
                await asyncio.sleep(delay)
                if self._transport is None:
                    return
                self._transport.write(frame)
            if self._transport is None:
                return
            self._transport.write(answers.stream_end)
            if not keep_alive:
                self._transport.close()
        finally:
            self._streaming = None
        self._serve_buffered()

    def _refuse(self, status: str, message: str) -> None:
        assert self._transport is not None
        self._transport.write(error_response(status, "invalid_request_error", message))
        self._transport.close()


async def serve(port: int, config: MockConfig, host: str = HOST) -> asyncio.Server:
    """Start listening; the caller owns the returned server."""
    answers = {w.path.encode(): CannedAnswers.build(w, config.chunks) for w in WIRES.values()}
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: MockProtocol(answers, config),
        host,
        port,
        backlog=LISTEN_BACKLOG,
        reuse_address=True,
    )


async def serve_until_signalled(port: int, config: MockConfig) -> None:
    server = await serve(port, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"mock upstream on http://{HOST}:{port} ({config.chunks} chunks)", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--chunks", type=int, default=DEFAULT_CHUNKS, help="text deltas per stream")
    parser.add_argument(
        "--chunk-delay-ms", type=float, default=DEFAULT_CHUNK_DELAY_MS, help="pause between deltas"
    )
    args = parser.parse_args(argv)
    if args.chunks < 1:
        parser.error("--chunks must be at least 1")
    config = MockConfig(chunks=args.chunks, chunk_delay_s=max(0.0, args.chunk_delay_ms) / 1000)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_until_signalled(args.port, config))


if __name__ == "__main__":
    main()
