"""The fake upstream speaks Anthropic and OpenAI well enough for the official SDKs,
and misbehaves exactly when and how it is told to."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.clients import anthropic_client, openai_client
from tests.fakes.upstream import (
    Behaviour,
    FakeUpstream,
    anthropic_error,
    anthropic_message,
    anthropic_stream,
    hang,
    json_response,
    openai_chunks,
    openai_completion,
    openai_error,
    openai_stream,
    raw,
    reset_after,
    slow_stream,
    sse_raw,
)

USER: list[Any] = [{"role": "user", "content": "hi"}]  # fits both SDKs' message types


@pytest.fixture(autouse=True)
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The server must not log errors (unhandled handler exceptions, stray tasks)."""
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == []


def anthropic_sdk(fake: FakeUpstream) -> anthropic.Anthropic:
    return anthropic_client(fake.url, api_key="x")


def openai_sdk(fake: FakeUpstream) -> openai.OpenAI:
    return openai_client(f"{fake.url}/v1", api_key="x")


def sse_events(body: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) for each event of a well-formed SSE body."""
    assert body.endswith(b"\n\n")
    events = []
    for block in body.decode().split("\n\n")[:-1]:
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields.get("event"), fields["data"]))
    return events


def post_stream(fake: FakeUpstream, body: dict[str, object]) -> bytes:
    with httpx.Client(timeout=5) as client:
        response = client.post(f"{fake.url}/v1/messages", json=body)
        assert response.headers["content-type"] == "text/event-stream"
        return response.content


# --- Anthropic ---------------------------------------------------------------------------------


def test_it_answers_the_anthropic_sdk_with_a_message(fake_upstream: FakeUpstream) -> None:
    with anthropic_sdk(fake_upstream) as client:
        message = client.messages.create(model="claude-test", max_tokens=10, messages=USER)

    assert message.id.startswith("msg_fake_")
    assert message.model == "claude-test"
    assert message.content[0].type == "text" and message.content[0].text == "Hello from fake"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 7)
    assert message.usage.cache_read_input_tokens == 0
    request = fake_upstream.requests[0]
    assert (request.method, request.path) == ("POST", "/v1/messages")
    credentials = {request.headers.get("x-api-key"), request.headers.get("authorization")}
    assert credentials & {"x", "Bearer x"}  # SDK 2.x sends a bearer token
    assert "anthropic-version" in request.headers
    assert request.json()["messages"] == USER
    assert request.finished.wait(2) and not request.disconnected.is_set()


def test_it_streams_events_the_anthropic_sdk_accepts(fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(
        anthropic_stream(
            ("Hel", "lo"),
            thinking=("Let me ", "think"),
            tool_use=("toolu_1", "get_weather", {"city": "Paris", "unit": "C"}),
            ping_every=2,
            usage={"input_tokens": 30, "output_tokens": 9, "cache_read_input_tokens": 5},
        )
    )
    with anthropic_sdk(fake_upstream) as client:
        with client.messages.stream(model="claude-test", max_tokens=10, messages=USER) as stream:
            message = stream.get_final_message()

    thinking, text, tool_use = message.content
    assert thinking.type == "thinking" and thinking.thinking == "Let me think"
    assert thinking.signature == "fake-signature"
    assert text.type == "text" and text.text == "Hello"
    assert tool_use.type == "tool_use" and (tool_use.id, tool_use.name) == (
        "toolu_1",
        "get_weather",
    )
    assert tool_use.input == {"city": "Paris", "unit": "C"}
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (30, 9)
    assert message.usage.cache_read_input_tokens == 5


def test_it_writes_the_exact_anthropic_event_sequence_with_pings(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.queue(anthropic_stream(("a", "b"), ping_every=3))
    with httpx.Client(timeout=5) as client:
        response = client.post(f"{fake_upstream.url}/v1/messages", json={"model": "m"})

    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    events = sse_events(response.content)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "ping",
        "message_stop",
    ]
    assert all(json.loads(data)["type"] == name for name, data in events)
    start = json.loads(events[0][1])["message"]
    assert start["model"] == "m" and start["content"] == []
    assert start["usage"] == {
        "input_tokens": 12,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
    }
    assert json.loads(events[-3][1])["usage"] == {"output_tokens": 7}


def test_one_anthropic_message_answers_plain_and_streaming_requests_alike(
    fake_upstream: FakeUpstream,
) -> None:
    content: list[dict[str, Any]] = [
        {"type": "thinking", "thinking": "hmm, let me see", "signature": "sig"},
        {"type": "text", "text": "Calling a tool now."},
        {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {"a": [1, 2]}},
    ]
    fake_upstream.set_default(anthropic_message(content=content, stop_reason="tool_use"))
    with anthropic_sdk(fake_upstream) as client:
        plain = client.messages.create(model="claude-test", max_tokens=10, messages=USER)
        with client.messages.stream(model="claude-test", max_tokens=10, messages=USER) as stream:
            streamed = stream.get_final_message()

    assert [b.model_dump(exclude_none=True) for b in plain.content] == content
    assert [b.model_dump(exclude_none=True) for b in streamed.content] == content
    assert plain.stop_reason == streamed.stop_reason == "tool_use"
    assert plain.usage.output_tokens == streamed.usage.output_tokens == 7


def test_it_returns_the_default_message_as_text_deltas_when_asked_to_stream(
    fake_upstream: FakeUpstream,
) -> None:
    with anthropic_sdk(fake_upstream) as client:
        with client.messages.stream(model="claude-test", max_tokens=10, messages=USER) as stream:
            deltas = list(stream.text_stream)

    assert len(deltas) > 1 and "".join(deltas) == "Hello from fake"


@pytest.mark.parametrize(
    ("status", "error_type", "exception"),
    [
        (400, "invalid_request_error", anthropic.BadRequestError),
        (401, "authentication_error", anthropic.AuthenticationError),
        (429, "rate_limit_error", anthropic.RateLimitError),
        (500, "api_error", anthropic.InternalServerError),
        (529, "overloaded_error", anthropic.OverloadedError),
    ],
)
def test_it_sends_anthropic_errors_the_sdk_maps_to_its_exceptions(
    fake_upstream: FakeUpstream, status: int, error_type: str, exception: type[Exception]
) -> None:
    fake_upstream.queue(anthropic_error(status, error_type, "nope", headers={"retry-after": "7"}))
    with anthropic_sdk(fake_upstream) as client, pytest.raises(exception) as caught:
        client.messages.create(model="claude-test", max_tokens=10, messages=USER)

    error = caught.value
    assert isinstance(error, anthropic.APIStatusError) and error.status_code == status
    assert error.body == {"type": "error", "error": {"type": error_type, "message": "nope"}}
    assert error.response.headers["retry-after"] == "7"


# --- OpenAI ------------------------------------------------------------------------------------


def test_it_answers_the_openai_sdk_with_a_chat_completion(fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(
        openai_completion(
            "Checking.",
            tool_calls=[("call_1", "get_weather", {"city": "Paris"})],
            reasoning_content="they want weather",
            usage={"prompt_tokens_details": {"cached_tokens": 4}},
        )
    )
    with openai_sdk(fake_upstream) as client:
        completion = client.chat.completions.create(model="gpt-test", messages=USER)

    assert completion.id.startswith("chatcmpl-fake-") and completion.model == "gpt-test"
    choice = completion.choices[0]
    assert choice.message.content == "Checking." and choice.finish_reason == "tool_calls"
    assert getattr(choice.message, "reasoning_content", None) == "they want weather"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.id == "call_1" and call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    usage = completion.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (12, 7)
    assert usage.total_tokens == 19
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 4
    request = fake_upstream.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer x"


def test_it_streams_chunks_the_openai_sdk_accepts(fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(
        openai_stream(
            ("Hel", "lo"),
            tool_calls=[("call_1", "lookup", {"q": "x"}), ("call_2", "other", "{bad json")],
            reasoning_chunks=("mm", "m"),
        )
    )
    with openai_sdk(fake_upstream) as client:
        chunks = list(client.chat.completions.create(model="gpt-test", messages=USER, stream=True))

    *choice_chunks, usage_chunk = chunks
    deltas = [c.choices[0].delta for c in choice_chunks]
    assert deltas[0].role == "assistant"
    assert "".join(d.content or "" for d in deltas) == "Hello"
    assert "".join(getattr(d, "reasoning_content", None) or "" for d in deltas) == "mmm"
    calls: dict[int, dict[str, str]] = {}
    for delta in deltas:
        for fragment in delta.tool_calls or []:
            call = calls.setdefault(fragment.index, {"arguments": ""})
            if fragment.id is not None:
                assert fragment.function is not None and fragment.function.name
                call.update(id=fragment.id, name=fragment.function.name)
            else:
                assert fragment.type is None
            assert fragment.function is not None
            call["arguments"] += fragment.function.arguments or ""
    assert calls == {
        0: {"id": "call_1", "name": "lookup", "arguments": '{"q": "x"}'},
        1: {"id": "call_2", "name": "other", "arguments": "{bad json"},
    }
    assert choice_chunks[-1].choices[0].finish_reason == "tool_calls"
    assert usage_chunk.choices == [] and usage_chunk.usage is not None
    assert usage_chunk.usage.total_tokens == 19


def test_one_openai_completion_streams_when_asked_and_adds_usage_only_on_request(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.set_default(openai_completion("Hello there", usage={"completion_tokens": 2}))
    with openai_sdk(fake_upstream) as client:
        bare = list(client.chat.completions.create(model="m", messages=USER, stream=True))
        counted = list(
            client.chat.completions.create(
                model="m", messages=USER, stream=True, stream_options={"include_usage": True}
            )
        )

    assert "".join(c.choices[0].delta.content or "" for c in bare) == "Hello there"
    assert all(c.usage is None and c.choices for c in bare)
    assert bare[-1].choices[0].finish_reason == "stop"
    assert counted[-1].choices == [] and counted[-1].usage is not None
    assert counted[-1].usage.total_tokens == 14


def test_it_sends_scripted_openai_chunks_verbatim_and_can_leave_out_done(
    fake_upstream: FakeUpstream,
) -> None:
    chunks: list[dict[str, Any]] = [
        {"id": "x", "choices": [{"index": 0, "delta": {"content": "é"}}]},
        {"odd": True},
    ]
    fake_upstream.queue(openai_chunks(chunks), openai_chunks(chunks, done=False))

    with_done, without_done = post_stream(fake_upstream, {}), post_stream(fake_upstream, {})

    data = [json.dumps(c, ensure_ascii=False) for c in chunks]
    assert sse_events(with_done) == [(None, data[0]), (None, data[1]), (None, "[DONE]")]
    assert sse_events(without_done) == [(None, data[0]), (None, data[1])]


def test_it_sends_openai_errors_the_sdk_understands(fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(openai_error(429, "slow down", "requests", code="rate_limit_exceeded"))
    with openai_sdk(fake_upstream) as client, pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="m", messages=USER)

    assert caught.value.status_code == 429
    assert (caught.value.type, caught.value.code) == ("requests", "rate_limit_exceeded")
    assert caught.value.message.endswith("slow down")


# --- raw answers -------------------------------------------------------------------------------


def test_sse_raw_writes_each_byte_chunk_as_is(fake_upstream: FakeUpstream) -> None:
    split_utf8 = [b'data: {"t": "caf\xc3', b'\xa9"}\n', b"\n"]
    huge = [b"data: " + b"x" * 100 * 1024 + b"\n\n"]
    fake_upstream.queue(
        sse_raw(split_utf8, delay=0.05),
        sse_raw(huge, status=502, content_type="text/html"),
    )
    with httpx.Client(timeout=5) as client:
        with client.stream("GET", fake_upstream.url) as response:
            received = list(response.iter_raw())
        big = client.get(fake_upstream.url)

    assert received == split_utf8
    assert (big.status_code, big.headers["content-type"]) == (502, "text/html")
    assert big.content == huge[0]


def test_json_response_and_raw_send_their_status_headers_and_body(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.queue(
        json_response({"whatever": [1]}, 418, headers={"x-extra": "yes"}),
        raw(b"<html>bad gateway</html>", 502, "text/html", headers={"x-extra": "no"}),
    )
    with httpx.Client(timeout=5) as client:
        first, second = client.get(fake_upstream.url), client.get(fake_upstream.url)

    assert (first.status_code, first.json(), first.headers["x-extra"]) == (
        418,
        {"whatever": [1]},
        "yes",
    )
    assert second.status_code == 502 and second.headers["content-type"] == "text/html"
    assert (second.content, second.headers["x-extra"]) == (b"<html>bad gateway</html>", "no")


# --- scripting and recording -------------------------------------------------------------------


def test_it_answers_in_queue_order_then_with_the_default(fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(raw(b"first"), raw(b"second"))
    fake_upstream.set_default(raw(b"default"))
    with httpx.Client(base_url=fake_upstream.url, timeout=5) as client:
        bodies = [client.get(f"/{path}").content for path in ("a", "b/c", "d", "")]

    assert bodies == [b"first", b"second", b"default", b"default"]
    assert [r.path for r in fake_upstream.requests] == ["/a", "/b/c", "/d", "/"]


def test_it_records_method_raw_path_query_headers_and_body(fake_upstream: FakeUpstream) -> None:
    with httpx.Client(timeout=5) as client:
        client.put(
            f"{fake_upstream.url}/v1/a%2Fb?x=1&y=%20z",
            content=b"\x00\xffbytes",
            headers=[("X-Twice", "one"), ("X-Twice", "two"), ("X-Mixed-Case", "v")],
        )

    request = fake_upstream.requests[0]
    assert (request.method, request.path, request.query_string) == (
        "PUT",
        "/v1/a%2Fb",
        "x=1&y=%20z",
    )
    assert request.headers["x-twice"] == "one, two" and request.headers["x-mixed-case"] == "v"
    assert request.body == b"\x00\xffbytes"


def test_wait_for_requests_waits_for_late_requests(fake_upstream: FakeUpstream) -> None:
    def late_request() -> None:
        time.sleep(0.1)
        httpx.post(fake_upstream.url, json={"n": 1}, timeout=5)

    thread = threading.Thread(target=late_request)
    thread.start()
    fake_upstream.wait_for_requests(1, timeout=5)
    thread.join()

    assert fake_upstream.requests[0].json() == {"n": 1}


def test_wait_for_requests_fails_when_too_few_arrive(fake_upstream: FakeUpstream) -> None:
    httpx.get(fake_upstream.url, timeout=5)

    with pytest.raises(AssertionError, match="expected 2 request"):
        fake_upstream.wait_for_requests(2, timeout=0.1)


def test_reset_forgets_the_queue_the_requests_and_the_default(fake_upstream: FakeUpstream) -> None:
    fake_upstream.set_default(raw(b"default"))
    fake_upstream.queue(raw(b"queued"))
    httpx.get(fake_upstream.url, timeout=5)
    fake_upstream.queue(raw(b"queued"))

    fake_upstream.reset()
    answer = httpx.post(fake_upstream.url, json={"model": "m"}, timeout=5)

    assert answer.json()["content"][0]["text"] == "Hello from fake"
    assert len(fake_upstream.requests) == 1


# --- misbehaviour ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("misbehaviour", "expected"),
    [
        (reset_after(), ["message_start", "content_block_start"]),
        (reset_after(3, base=openai_stream(("a", "b", "c"))), [None, None, None]),
    ],
)
def test_reset_after_breaks_the_chunked_stream_after_some_events(
    fake_upstream: FakeUpstream, misbehaviour: Behaviour, expected: list[str | None]
) -> None:
    fake_upstream.queue(misbehaviour)
    body = b""
    with httpx.Client(timeout=5) as client, client.stream("GET", fake_upstream.url) as response:
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                body += chunk

    assert [name for name, _ in sse_events(body)] == expected
    request = fake_upstream.requests[0]
    assert request.aborted.is_set()
    assert not request.finished.is_set() and not request.disconnected.is_set()


def test_a_client_timeout_fires_while_it_hangs_and_it_notices_the_client_leave(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.queue(hang(5))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(fake_upstream.url, json={}, timeout=0.2)

    assert time.monotonic() - started < 1
    request = fake_upstream.requests[0]
    assert request.disconnected.wait(2) and not request.finished.is_set()


def test_hang_answers_with_then_once_the_time_is_up(fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(hang(0.2, then=json_response({"late": True})))
    started = time.monotonic()
    answer = httpx.get(fake_upstream.url, timeout=5)

    assert time.monotonic() - started >= 0.2 and answer.json() == {"late": True}


def test_it_notices_when_the_client_closes_a_slow_stream_early(fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(slow_stream(interval=0.05))
    with httpx.Client(timeout=5) as client, client.stream("GET", fake_upstream.url) as response:
        first = next(response.iter_raw())
    assert first.startswith(b"event: message_start\n")

    request = fake_upstream.requests[0]
    assert request.disconnected.wait(2) and not request.finished.is_set()


def test_pause_after_holds_the_stream_until_released(fake_upstream: FakeUpstream) -> None:
    release = threading.Event()
    fake_upstream.queue(anthropic_stream(("a", "b"), pause_after=2, release=release))
    body = bytearray()

    def read() -> None:
        with httpx.stream("GET", fake_upstream.url, timeout=5) as response:
            for chunk in response.iter_raw():
                body.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 2
    while b"content_block_start" not in body and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    held = bytes(body)
    release.set()
    reader.join(5)

    assert [name for name, _ in sse_events(held)] == ["message_start", "content_block_start"]
    assert sse_events(bytes(body))[-1][0] == "message_stop"
    assert fake_upstream.requests[0].finished.wait(2)


def test_delay_spaces_the_events_out(fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(anthropic_stream(("a",), delay=0.05))  # 6 events, 5 gaps
    started = time.monotonic()
    body = post_stream(fake_upstream, {})

    assert time.monotonic() - started >= 0.25
    assert len(sse_events(body)) == 6


# --- lifecycle ---------------------------------------------------------------------------------


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fake-upstream"]


def test_stop_joins_the_server_thread_and_closes_the_port() -> None:
    fake = FakeUpstream().start()
    assert fake.url.startswith("http://127.0.0.1:") and not fake.url.endswith("/")
    assert len(server_threads()) == 1

    fake.stop()

    assert server_threads() == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(fake.url, timeout=1)


def test_stop_cancels_answers_still_in_flight() -> None:
    errors: list[Exception] = []

    def call(url: str) -> None:
        try:
            httpx.get(url, timeout=5)
        except httpx.HTTPError as error:
            errors.append(error)

    with FakeUpstream() as fake:
        fake.set_default(hang(30))
        client = threading.Thread(target=call, args=(fake.url,))
        client.start()
        fake.wait_for_requests(1)
        started = time.monotonic()
    client.join(5)

    assert time.monotonic() - started < 0.5
    assert len(errors) == 1 and server_threads() == []
    assert not fake.requests[0].disconnected.is_set()
