"""A fake LLM provider: a real HTTP server on 127.0.0.1 that tests script request by request.

`FakeUpstream` runs an aiohttp server on an ephemeral port in a daemon thread with its own
event loop. Every request (any method, any path) is recorded as a `ReceivedRequest`, then
answered by the next queued *behaviour*, or by the default one when the queue is empty::

    with FakeUpstream() as fake:
        fake.queue(anthropic_error(529, "overloaded_error", "busy"), anthropic_stream(("Hi",)))
        ...  # point the code under test at fake.url
        fake.wait_for_requests(2)

Behaviours are small dataclasses with an async `respond(request, received)` method; the
lower-case names (`anthropic_message`, `openai_stream`, `hang`, ...) are the ones tests use.
They speak the Anthropic Messages and OpenAI Chat Completions wire formats, JSON and SSE, and
misbehave on request: hang, stall mid-stream, cut the connection, send arbitrary bytes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Protocol

from aiohttp import web

__all__ = [
    "AnthropicMessage",
    "AnthropicStream",
    "Behaviour",
    "Compressed",
    "FakeUpstream",
    "Hang",
    "JSONResponse",
    "NotHTTP",
    "OpenAIChunks",
    "OpenAICompletion",
    "OpenAIStream",
    "Raw",
    "ReceivedRequest",
    "ResetAfter",
    "ResetMidBody",
    "SSERaw",
    "Truncated",
    "anthropic_error",
    "anthropic_message",
    "anthropic_stream",
    "compressed",
    "hang",
    "json_response",
    "not_http",
    "openai_chunks",
    "openai_completion",
    "openai_error",
    "openai_stream",
    "raw",
    "reset_after",
    "reset_mid_body",
    "slow_stream",
    "sse_raw",
    "truncated",
]

ANTHROPIC_USAGE = {
    "input_tokens": 12,
    "output_tokens": 7,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}
OPENAI_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 7,
    "prompt_tokens_details": {"cached_tokens": 0},
}
RELEASE_TIMEOUT = 30.0  # how long `pause_after` waits for `release` before carrying on
SHUTDOWN_TIMEOUT = 1.0  # aiohttp's grace period on stop(); in-flight answers are cancelled first

ToolCall = tuple[str, str, Mapping[str, Any] | str]  # (id, name, input/arguments)
_ids = itertools.count(1)


@dataclass
class ReceivedRequest:
    """One request as the fake received it, plus how its answer ended."""

    method: str
    path: str  # raw (still percent-encoded), without the query
    query_string: str  # raw, without '?'
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    finished: threading.Event = field(default_factory=threading.Event, repr=False)
    """Set once the whole answer was handed to the socket."""
    disconnected: threading.Event = field(default_factory=threading.Event, repr=False)
    """Set when the client went away before the answer was complete."""
    aborted: threading.Event = field(default_factory=threading.Event, repr=False)
    """Set when the fake itself cut the connection (`reset_after`)."""

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class Behaviour(Protocol):
    """How the fake answers one request."""

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        """Answer `request`; a returned response that is not yet sent is sent by the caller."""
        ...


class SSESource(Protocol):
    """A behaviour that can render its answer as a list of SSE events (raw bytes)."""

    def sse_events(self, received: ReceivedRequest) -> list[bytes]: ...


# --- helpers ---------------------------------------------------------------------------------


def _body(received: ReceivedRequest) -> dict[str, Any]:
    try:
        data = received.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _wants_stream(received: ReceivedRequest) -> bool:
    return _body(received).get("stream") is True


def _model(received: ReceivedRequest, model: str | None, fallback: str) -> str:
    return model or str(_body(received).get("model") or fallback)


def _split(text: str, parts: int = 3) -> list[str]:
    """Cut `text` into about `parts` non-empty pieces (none when it is empty)."""
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _sse(event: str | None, data: Any) -> bytes:
    """One SSE event: optional `event:` line, a `data:` line, a blank line."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


async def _wait_for(release: threading.Event, patience: float) -> None:
    """Wait for a thread-side event without blocking the loop (polls every 10 ms)."""
    deadline = time.monotonic() + patience
    # A threading.Event set by the test thread: polling keeps this cancellable.
    while not release.is_set() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def _open_stream(
    request: web.Request,
    *,
    status: int = 200,
    content_type: str = "text/event-stream",
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers={"cache-control": "no-cache"})
    response.headers.update(headers or {})
    response.content_type = content_type
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response


async def _stream(
    request: web.Request,
    events: Sequence[bytes],
    *,
    status: int = 200,
    content_type: str = "text/event-stream",
    headers: Mapping[str, str] | None = None,
    delay: float = 0.0,
    pause_after: int | None = None,
    release: threading.Event | None = None,
) -> web.StreamResponse:
    """Send `events` as a chunked body, one write (and chunk) each."""
    response = await _open_stream(
        request, status=status, content_type=content_type, headers=headers
    )
    for count, event in enumerate(events, 1):
        if delay and count > 1:
            await asyncio.sleep(delay)
        await response.write(event)
        if count == pause_after and release is not None:
            await _wait_for(release, RELEASE_TIMEOUT)
    await response.write_eof()
    return response


# --- Anthropic Messages ------------------------------------------------------------------------

_Block = tuple[dict[str, Any], list[dict[str, Any]]]  # content_block_start block, its deltas


def _text_block(chunks: Sequence[str]) -> _Block:
    return {"type": "text", "text": ""}, [{"type": "text_delta", "text": c} for c in chunks]


def _thinking_block(chunks: Sequence[str], signature: str) -> _Block:
    deltas = [{"type": "thinking_delta", "thinking": c} for c in chunks]
    return (
        {"type": "thinking", "thinking": "", "signature": ""},
        [*deltas, {"type": "signature_delta", "signature": signature}],
    )


def _tool_use_block(id_: str, name: str, input_: Mapping[str, Any]) -> _Block:
    pieces = _split(json.dumps(input_, ensure_ascii=False))
    return (
        {"type": "tool_use", "id": id_, "name": name, "input": {}},
        [{"type": "input_json_delta", "partial_json": p} for p in pieces],
    )


def _streamed(block: Mapping[str, Any]) -> _Block:
    """How a complete content block arrives in a stream."""
    if block["type"] == "text":
        return _text_block(_split(block["text"]))
    if block["type"] == "thinking":
        return _thinking_block(_split(block["thinking"]), block.get("signature", ""))
    if block["type"] == "tool_use":
        return _tool_use_block(block["id"], block["name"], block["input"])
    return dict(block), []  # redacted_thinking and friends arrive whole


def _anthropic_events(
    received: ReceivedRequest,
    blocks: Sequence[_Block],
    *,
    model: str | None,
    usage: Mapping[str, int] | None,
    stop_reason: str,
    ping_every: int = 0,
) -> list[bytes]:
    """The exact Anthropic event sequence for a message made of `blocks`."""
    counts = {**ANTHROPIC_USAGE, **(usage or {})}
    message: dict[str, Any] = {
        "id": f"msg_fake_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": _model(received, model, "claude-fake"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": counts["input_tokens"],
            "cache_creation_input_tokens": counts["cache_creation_input_tokens"],
            "cache_read_input_tokens": counts["cache_read_input_tokens"],
            "output_tokens": 1,
        },
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}]
    for index, (start, deltas) in enumerate(blocks):
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": counts["output_tokens"]},
        }
    )
    events.append({"type": "message_stop"})
    out: list[bytes] = []
    for count, event in enumerate(events, 1):
        out.append(_sse(event["type"], event))
        if ping_every and count % ping_every == 0 and count < len(events):
            out.append(_sse("ping", {"type": "ping"}))
    return out


@dataclass
class AnthropicMessage:
    """A Messages API answer: Message JSON, or the equivalent SSE stream if the request asks.

    `content` (a list of content blocks) replaces the single text block made from `text`;
    `usage` entries override the defaults (12 in, 7 out, no cache).
    """

    text: str = "Hello from fake"
    _: KW_ONLY
    model: str | None = None
    stop_reason: str = "end_turn"
    usage: Mapping[str, int] | None = None
    content: Sequence[Mapping[str, Any]] | None = None
    status: int = 200
    headers: Mapping[str, str] | None = None

    def _blocks(self) -> list[Mapping[str, Any]]:
        if self.content is not None:
            return list(self.content)
        return [{"type": "text", "text": self.text}]

    def sse_events(self, received: ReceivedRequest) -> list[bytes]:
        blocks = [_streamed(b) for b in self._blocks()]
        return _anthropic_events(
            received, blocks, model=self.model, usage=self.usage, stop_reason=self.stop_reason
        )

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        if _wants_stream(received):
            events = self.sse_events(received)
            return await _stream(request, events, status=self.status, headers=self.headers)
        message = {
            "id": f"msg_fake_{next(_ids)}",
            "type": "message",
            "role": "assistant",
            "model": _model(received, self.model, "claude-fake"),
            "content": self._blocks(),
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": {**ANTHROPIC_USAGE, **(self.usage or {})},
        }
        return web.json_response(message, status=self.status, headers=self.headers)


@dataclass
class AnthropicStream:
    """A Messages API SSE stream: optional thinking, text, optional tool_use block.

    The text block is left out when `text_chunks` is empty. `ping_every=k` adds a ping after
    every k events; `delay` seconds pass between events; with `pause_after=k` and `release`,
    the stream stops after k events until `release` is set (or 30 s pass).
    """

    text_chunks: Sequence[str] = ("Hel", "lo")
    _: KW_ONLY
    model: str | None = None
    usage: Mapping[str, int] | None = None
    thinking: Sequence[str] | None = None  # thinking_delta chunks; a signature_delta follows
    tool_use: ToolCall | None = None  # (id, name, input dict)
    ping_every: int = 0
    delay: float = 0.0
    pause_after: int | None = None
    release: threading.Event | None = None
    stop_reason: str | None = None
    headers: Mapping[str, str] | None = None

    def sse_events(self, received: ReceivedRequest) -> list[bytes]:
        blocks: list[_Block] = []
        if self.thinking is not None:
            blocks.append(_thinking_block(self.thinking, "fake-signature"))
        if self.text_chunks:
            blocks.append(_text_block(self.text_chunks))
        if self.tool_use is not None:
            id_, name, input_ = self.tool_use
            input_ = json.loads(input_) if isinstance(input_, str) else input_
            blocks.append(_tool_use_block(id_, name, input_))
        stop_reason = self.stop_reason or ("tool_use" if self.tool_use else "end_turn")
        return _anthropic_events(
            received,
            blocks,
            model=self.model,
            usage=self.usage,
            stop_reason=stop_reason,
            ping_every=self.ping_every,
        )

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        return await _stream(
            request,
            self.sse_events(received),
            headers=self.headers,
            delay=self.delay,
            pause_after=self.pause_after,
            release=self.release,
        )


def anthropic_error(
    status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An Anthropic error envelope, e.g. `anthropic_error(529, "overloaded_error", "busy")`."""
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return JSONResponse(body, status, headers)


def slow_stream(interval: float = 0.2, count: int = 1000) -> AnthropicStream:
    """An Anthropic stream that trickles `count` text deltas, `interval` seconds apart."""
    return AnthropicStream([f"tick {i} " for i in range(count)], delay=interval)


# --- OpenAI Chat Completions -------------------------------------------------------------------


def _arguments(arguments: Mapping[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def _openai_usage(usage: Mapping[str, Any] | None) -> dict[str, Any]:
    counts = {**OPENAI_USAGE, **(usage or {})}
    counts.setdefault("total_tokens", counts["prompt_tokens"] + counts["completion_tokens"])
    return counts


def _openai_head(received: ReceivedRequest, model: str | None, object_: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake-{next(_ids)}",
        "object": object_,
        "created": int(time.time()),
        "model": _model(received, model, "gpt-fake"),
    }


def _openai_sse(chunks: Sequence[Mapping[str, Any]], done: bool) -> list[bytes]:
    return [_sse(None, c) for c in chunks] + ([b"data: [DONE]\n\n"] if done else [])


@dataclass
class OpenAIStream:
    """A chat.completion.chunk stream: role, reasoning, text, tool call fragments, finish.

    The usage chunk (`choices: []`) is sent when `include_usage` is true or the request asks
    with `stream_options.include_usage`; `usage` entries override the defaults.
    """

    text_chunks: Sequence[str] = ("Hel", "lo")
    _: KW_ONLY
    model: str | None = None
    tool_calls: Sequence[ToolCall] | None = None  # (id, name, arguments dict or raw string)
    reasoning_chunks: Sequence[str] = ()
    finish_reason: str | None = None
    include_usage: bool = True
    done: bool = True
    delay: float = 0.0
    usage: Mapping[str, Any] | None = None

    def sse_events(self, received: ReceivedRequest) -> list[bytes]:
        head = _openai_head(received, self.model, "chat.completion.chunk")

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                **head,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }

        chunks = [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"reasoning_content": r}) for r in self.reasoning_chunks]
        chunks += [chunk({"content": t}) for t in self.text_chunks]
        for index, (id_, name, arguments) in enumerate(self.tool_calls or ()):
            function = {"name": name, "arguments": ""}
            first = {"index": index, "id": id_, "type": "function", "function": function}
            chunks.append(chunk({"tool_calls": [first]}))
            chunks += [
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                for piece in _split(_arguments(arguments))
            ]
        chunks.append(
            chunk({}, self.finish_reason or ("tool_calls" if self.tool_calls else "stop"))
        )
        options = _body(received).get("stream_options")
        if self.include_usage or (isinstance(options, dict) and options.get("include_usage")):
            chunks.append({**head, "choices": [], "usage": _openai_usage(self.usage)})
        return _openai_sse(chunks, self.done)

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        return await _stream(request, self.sse_events(received), delay=self.delay)


@dataclass
class OpenAICompletion:
    """A chat.completion JSON, or the equivalent stream if the request asks for one.

    `finish_reason` defaults to "tool_calls" when there are tool calls, else "stop"; `text=None`
    gives `content: null`.
    """

    text: str | None = "Hello from fake"
    _: KW_ONLY
    model: str | None = None
    tool_calls: Sequence[ToolCall] | None = None  # (id, name, arguments dict or raw string)
    reasoning_content: str | None = None
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None
    status: int = 200

    def sse_events(self, received: ReceivedRequest) -> list[bytes]:
        stream = OpenAIStream(
            _split(self.text or ""),
            model=self.model,
            tool_calls=self.tool_calls,
            reasoning_chunks=_split(self.reasoning_content or ""),
            finish_reason=self.finish_reason,
            include_usage=False,
            usage=self.usage,
        )
        return stream.sse_events(received)

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        if _wants_stream(received):
            return await _stream(request, self.sse_events(received), status=self.status)
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": id_,
                    "type": "function",
                    "function": {"name": name, "arguments": _arguments(args)},
                }
                for id_, name, args in self.tool_calls
            ]
        if self.reasoning_content is not None:
            message["reasoning_content"] = self.reasoning_content
        finish_reason = self.finish_reason or ("tool_calls" if self.tool_calls else "stop")
        body = {
            **_openai_head(received, self.model, "chat.completion"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": _openai_usage(self.usage),
        }
        return web.json_response(body, status=self.status)


@dataclass
class OpenAIChunks:
    """A fully scripted OpenAI stream: each dict becomes one `data:` event."""

    chunks: Sequence[Mapping[str, Any]]
    done: bool = True
    delay: float = 0.0

    def sse_events(self, received: ReceivedRequest) -> list[bytes]:
        return _openai_sse(self.chunks, self.done)

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        return await _stream(request, self.sse_events(received), delay=self.delay)


def openai_error(
    status: int, message: str, type_: str = "invalid_request_error", code: str | None = None
) -> JSONResponse:
    """An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status)


# --- generic and misbehaving -------------------------------------------------------------------


@dataclass
class JSONResponse:
    """Any JSON body."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] | None = None

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        return web.json_response(self.body, status=self.status, headers=self.headers)


@dataclass
class Raw:
    """Any bytes, with a Content-Length."""

    body: bytes
    status: int = 200
    content_type: str = "text/plain"
    headers: Mapping[str, str] | None = None

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        return web.Response(
            body=self.body, status=self.status, content_type=self.content_type, headers=self.headers
        )


@dataclass
class SSERaw:
    """A chunked body written chunk by chunk exactly as given (split lines, UTF-8, JSON...)."""

    chunks: Sequence[bytes]
    _: KW_ONLY
    delay: float = 0.0
    status: int = 200
    content_type: str = "text/event-stream"

    def sse_events(self, received: ReceivedRequest) -> list[bytes]:
        return list(self.chunks)

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        return await _stream(
            request,
            self.chunks,
            status=self.status,
            content_type=self.content_type,
            delay=self.delay,
        )


@dataclass
class Hang:
    """Send nothing for `seconds` (or until the client leaves), then answer with `then`."""

    seconds: float = 30.0
    then: Behaviour | None = None  # defaults to anthropic_message()

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        await asyncio.sleep(self.seconds)
        return await (self.then or AnthropicMessage()).respond(request, received)


@dataclass
class ResetAfter:
    """Stream the first `events` events of `base`, then abort the TCP connection mid-body."""

    events: int = 2
    _: KW_ONLY
    base: SSESource | None = None  # defaults to an anthropic_stream of four text chunks

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        base = self.base or AnthropicStream(("one ", "two ", "three ", "four"))
        response = await _open_stream(request)
        for event in base.sse_events(received)[: self.events]:
            await response.write(event)
        received.aborted.set()
        assert request.transport is not None
        request.transport.abort()
        await asyncio.sleep(RELEASE_TIMEOUT)  # aiohttp cancels us once the connection is lost
        return response


@dataclass
class ResetMidBody:
    """Announce `body` with its full Content-Length, send the first `after` bytes, then abort."""

    body: bytes
    after: int
    _: KW_ONLY
    content_type: str = "application/json"

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": self.content_type})
        response.content_length = len(self.body)
        await response.prepare(request)
        await response.write(self.body[: self.after])
        received.aborted.set()
        assert request.transport is not None
        request.transport.abort()
        await asyncio.sleep(RELEASE_TIMEOUT)  # aiohttp cancels us once the connection is lost
        return response


@dataclass
class NotHTTP:
    """Answer with bytes that are not HTTP at all (another service on the port), then close."""

    data: bytes = b"SSH-2.0-OpenSSH_9.2\r\n"

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.write(self.data)
        received.aborted.set()
        request.transport.close()
        await asyncio.sleep(RELEASE_TIMEOUT)  # aiohttp cancels us once the connection is lost
        return web.StreamResponse()


@dataclass
class Truncated:
    """The SSE stream of `base` without its last `drop` events (by default: no message_stop)."""

    base: SSESource | None = None  # defaults to anthropic_stream()
    _: KW_ONLY
    drop: int = 1

    def sse_events(self, received: ReceivedRequest) -> list[bytes]:
        return (self.base or AnthropicStream()).sse_events(received)[: -self.drop]

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        return await _stream(request, self.sse_events(received))


def _compressor(encoding: str) -> Any:
    """A streaming compressor for a Content-Encoding; None for one the fake cannot produce."""
    if encoding == "gzip":
        return zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.compressobj()
    return None


@dataclass
class Compressed:
    """The answer of `base`, sent with `Content-Encoding: encoding` whatever the request asked.

    JSON answers are compressed whole; streams event by event (a sync flush after each, as a
    compressing proxy does), so every chunk on the wire is compressed data. An encoding the
    fake cannot produce (e.g. "br") sends the plain bytes under that label.
    """

    base: Behaviour | None = None  # defaults to anthropic_message()
    _: KW_ONLY
    encoding: str = "gzip"

    def _compress(self, data: bytes) -> bytes:
        compressor = _compressor(self.encoding)
        return data if compressor is None else compressor.compress(data) + compressor.flush()

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        base = self.base or AnthropicMessage()
        events = getattr(base, "sse_events", None)
        if _wants_stream(received) and events is not None:
            response = await _open_stream(request, headers={"content-encoding": self.encoding})
            compressor = _compressor(self.encoding)
            for event in events(received):
                if compressor is None:
                    await response.write(event)
                else:
                    data = compressor.compress(event) + compressor.flush(zlib.Z_SYNC_FLUSH)
                    await response.write(data)
            if compressor is not None:
                await response.write(compressor.flush())
            await response.write_eof()
            return response
        plain = await base.respond(request, received)
        assert isinstance(plain, web.Response) and isinstance(plain.body, bytes)
        return web.Response(
            body=self._compress(plain.body),
            status=plain.status,
            headers={
                "content-type": plain.headers.get("content-type", "application/json"),
                "content-encoding": self.encoding,
            },
        )


anthropic_message = AnthropicMessage
anthropic_stream = AnthropicStream
openai_completion = OpenAICompletion
openai_stream = OpenAIStream
openai_chunks = OpenAIChunks
json_response = JSONResponse
raw = Raw
sse_raw = SSERaw
hang = Hang
reset_after = ResetAfter
reset_mid_body = ResetMidBody
not_http = NotHTTP
truncated = Truncated
compressed = Compressed


# --- the server --------------------------------------------------------------------------------


class FakeUpstream:
    """A real HTTP server on 127.0.0.1 answering with scripted behaviours (see module doc)."""

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[ReceivedRequest] = []
        self._condition = threading.Condition()
        self._queue: deque[Behaviour] = deque()
        self._default: Behaviour = AnthropicMessage()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._stopping = False
        self._in_flight: set[asyncio.Task[Any]] = set()  # handler tasks, loop thread only

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> FakeUpstream:
        """Start serving; `url` is set when this returns."""
        if self._thread is not None:
            raise RuntimeError("FakeUpstream is already running")
        self._stopping = False
        started = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(started)), name="fake-upstream", daemon=True
        )
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("FakeUpstream did not start within 10 s")
        return self

    def stop(self) -> None:
        """Stop serving, cancelling answers still in flight, and join the server thread."""
        if self._thread is None:
            return
        self._stopping = True
        assert self._loop is not None and self._stop_event is not None
        self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(10)
        if self._thread.is_alive():
            raise RuntimeError("FakeUpstream thread did not stop within 10 s")
        self._thread = None

    def queue(self, *behaviours: Behaviour) -> None:
        """Answer the next requests (any path), in order, with these behaviours."""
        with self._condition:
            self._queue.extend(behaviours)

    def set_default(self, behaviour: Behaviour) -> None:
        """Answer with `behaviour` whenever the queue is empty."""
        with self._condition:
            self._default = behaviour

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> None:
        """Block until at least `n` requests arrived; AssertionError after `timeout` seconds."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.requests) >= n, timeout):
                raise AssertionError(
                    f"expected {n} request(s) within {timeout} s, got {len(self.requests)}"
                )

    def reset(self) -> None:
        """Forget queued behaviours and received requests; default back to anthropic_message()."""
        with self._condition:
            self._queue.clear()
            self.requests.clear()
            self._default = AnthropicMessage()

    async def _serve(self, started: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=None
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            started.set()
            await self._stop_event.wait()
            for task in list(self._in_flight):
                task.cancel()  # answers still going are cut rather than awaited
        finally:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        received = ReceivedRequest(
            method=request.method,
            path=request.rel_url.raw_path,
            query_string=request.rel_url.raw_query_string,
            headers=headers,
            body=await request.read(),
        )
        with self._condition:
            self.requests.append(received)
            behaviour = self._queue.popleft() if self._queue else self._default
            self._condition.notify_all()
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            response = await behaviour.respond(request, received)
            await response.prepare(request)
            await response.write_eof()
        except (asyncio.CancelledError, ConnectionResetError) as exc:
            if not (self._stopping or received.aborted.is_set()):
                received.disconnected.set()
            if isinstance(exc, asyncio.CancelledError):
                raise
            return web.Response(status=499)  # never sent: the connection is gone
        finally:
            self._in_flight.discard(task)
        received.finished.set()
        return response
