"""OpenAI-format providers (Chat Completions): requests and answers are translated.

The translation itself is pure (request_from_anthropic, response_to_anthropic,
stream_to_anthropic); this module adds what touches the wire: the URL (the
base URL's own path is kept: `/v1beta/openai/` for Gemini, `/api/v1` for
OpenRouter), the bearer credential (the client's Anthropic key is never sent
to another vendor), SSE decoding, and `ping` events while the upstream is
silent so that clients and proxies keep the connection open.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any
from urllib.parse import urlsplit

import orjson

from providers.base import Call, Prepared
from providers.errors import UpstreamProtocolError
from providers.headers import with_extra_headers
from providers.json_body import encode_body
from providers.openai.presets import get_preset
from providers.openai.request_from_anthropic import translate_request
from providers.openai.response_to_anthropic import translate_error, translate_response
from providers.openai.stream_to_anthropic import StreamTranslator
from providers.sse import ServerSentEvent, SSEDecoder, encode_events
from providers.transport import UpstreamRequest, UpstreamResponse

#: Seconds of upstream silence after which the client gets a `ping` event.
PING_INTERVAL = 10.0
#: The upstream's raw answer kept for the log, at most (bytes).
UPSTREAM_LOG_CAP = 256 * 1024
USER_AGENT = "switchboard"


def chat_completions_url(base_url: str) -> str:
    """base + `/chat/completions`; a bare host gets OpenAI's `/v1` first."""
    base = base_url.rstrip("/")
    if urlsplit(base).path in ("", "/"):
        base += "/v1"
    return base + "/chat/completions"


class OpenAIAdapter:
    wire_format = "openai"

    def messages_request(self, call: Call) -> Prepared:
        preset = get_preset(call.provider.preset)
        translated = translate_request(call.payload, target_model=call.target_model, preset=preset)
        call.notes.extend(translated.notes)
        headers = [
            ("content-type", "application/json"),
            (
                "accept",
                "text/event-stream" if translated.body.get("stream") else "application/json",
            ),
            ("accept-encoding", "identity"),
            ("user-agent", USER_AGENT),
        ]
        if call.credential is not None:
            headers.append(("authorization", f"Bearer {call.credential.secret}"))
        headers = with_extra_headers(headers, call.provider.extra_headers)
        return Prepared(
            request=UpstreamRequest(
                method="POST",
                url=chat_completions_url(call.provider.base_url),
                headers=headers,
                body=encode_body(translated.body),
                connect_timeout=call.provider.connect_timeout,
                read_timeout=call.provider.read_timeout,
                provider=call.provider.name,
            ),
            translated=True,
        )

    def count_tokens_request(self, call: Call) -> Prepared | None:
        return None  # no counting endpoint in Chat Completions: estimated locally

    async def relay_stream(self, upstream: UpstreamResponse, call: Call) -> AsyncIterator[bytes]:
        translator = StreamTranslator(
            requested_model=call.requested_model, preset=get_preset(call.provider.preset)
        )
        decoder = SSEDecoder()
        saw_done = False
        async with aclosing(_with_keepalive(upstream.aiter_raw())) as chunks:
            async for chunk in chunks:
                if chunk is None:
                    out = translator.ping()
                else:
                    _keep(call.upstream_body, chunk)
                    out = []
                    for event in decoder.feed(chunk):
                        if event.data.strip() == "[DONE]":
                            saw_done = True
                            out += translator.finish()
                        elif event.data.strip():
                            out += translator.feed(_chunk_json(event))
                if out:
                    yield _emit(out, call)
                if translator.done:
                    break
        if not translator.done:
            for event in decoder.flush():
                if event.data.strip() and event.data.strip() != "[DONE]":
                    out = translator.feed(_chunk_json(event))
                    if out:
                        yield _emit(out, call)
            if translator.upstream_finished or saw_done:
                out = translator.finish()
            else:
                out = translator.fail("the provider ended the stream before it finished")
            if out:
                yield _emit(out, call)

    def message_body(self, body: bytes, call: Call) -> tuple[bytes, dict[str, Any] | None]:
        _keep(call.upstream_body, body)
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamProtocolError(
                f"provider {call.provider.name!r} answered with a body that is not JSON"
            ) from None
        message = translate_response(
            parsed, requested_model=call.requested_model, preset=get_preset(call.provider.preset)
        )
        return orjson.dumps(message), message

    def error_body(self, status: int, body: bytes, content_type: str) -> tuple[int, dict]:
        return translate_error(status, body, content_type)


def _chunk_json(event: ServerSentEvent) -> Any:
    try:
        return orjson.loads(event.data)
    except orjson.JSONDecodeError:
        return None  # the translator turns a non-object chunk into an error event


def _emit(events: list[tuple[str, dict[str, Any]]], call: Call) -> bytes:
    for name, data in events:
        call.message.feed_event(name, data)
    return encode_events(events)


def _keep(buffer: bytearray, chunk: bytes) -> None:
    room = UPSTREAM_LOG_CAP - len(buffer)
    if room > 0:
        buffer += chunk[:room]


async def _with_keepalive(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes | None, None]:
    """The upstream's chunks, with None after every PING_INTERVAL of silence.

    The pending read is never cancelled by the wait (cancelling an async
    generator's __anext__ would close it); it is only cancelled if the
    consumer goes away.
    """
    iterator = chunks.__aiter__()
    pending: asyncio.Future | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=PING_INTERVAL)
            if not done:
                yield None
                continue
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            finally:
                if done:
                    pending = None
            yield chunk
    finally:
        if pending is not None:
            pending.cancel()
