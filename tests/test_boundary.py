"""The error boundary: a failure in any stage, or in building the row, still gives a JSON
answer and exactly one log row.

These run the views in this process (so a stage can be made to raise), with
the log writer's `enqueue` captured and the fake upstream on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from django.http import HttpResponse
from django.test import AsyncRequestFactory, override_settings

from gateway import pipeline, record, views
from gateway.pipeline import Pipeline
from providers import transport
from providers.anthropic.stream_log import MessageAccumulator
from proxysite.gateway_handler import GatewayASGIHandler
from requestlog.models import Outcome
from requestlog.writer import log_writer
from routing import snapshot

HELLO = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}


class Injected(RuntimeError):
    """The failure these tests inject."""


@pytest.fixture
def rows(monkeypatch, anthropic_provider) -> list[dict[str, Any]]:
    """The rows handed to the log writer, in order (nothing is written)."""
    captured: list[dict[str, Any]] = []
    monkeypatch.setattr(log_writer, "enqueue", captured.append)
    snapshot.load()
    return captured


def serve(view: Callable, path: str, body: dict | bytes) -> tuple[HttpResponse, bytes]:
    """Call a gateway view in a fresh event loop; read a streamed answer to its end."""

    async def go() -> tuple[HttpResponse, bytes]:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        request = AsyncRequestFactory().post(path, data=content, content_type="application/json")
        try:
            response = await view(request)
            if response.streaming:
                chunks = [chunk async for chunk in response.streaming_content]
                return response, b"".join(chunks)
            return response, response.content
        finally:
            await transport.get_transport().aclose()
            transport._transport = None

    return asyncio.run(go())


def raising(*args: Any, **kwargs: Any) -> Any:
    raise Injected("injected failure")


def assert_internal_error(response: HttpResponse, content: bytes) -> None:
    assert response.status_code == 500
    assert response["content-type"] == "application/json"
    error = orjson.loads(content)
    request_id = response["x-switchboard-request-id"]
    assert error == {
        "type": "error",
        "error": {
            "type": "api_error",
            "message": f"internal gateway error (request id {request_id})",
        },
    }


ENDPOINTS = [
    ("MESSAGES", views.messages, "/v1/messages"),
    ("COUNT_TOKENS", views.count_tokens, "/v1/messages/count_tokens"),
]


@pytest.mark.parametrize(("name", "view", "path"), ENDPOINTS)
def test_it_answers_a_failing_stage_with_json_and_logs_it(rows, monkeypatch, name, view, path):
    original: Pipeline = getattr(pipeline, name)
    for index in range(len(original.stages)):
        rows.clear()
        stages = list(original.stages)

        async def failing(exchange: Any, index: int = index) -> None:
            raise Injected(f"stage {index} failed")

        stages[index] = failing
        monkeypatch.setattr(pipeline, name, Pipeline(original.endpoint, tuple(stages)))

        response, content = serve(view, path, HELLO)

        assert_internal_error(response, content)
        assert len(rows) == 1, index
        assert rows[0]["request_id"] == response["x-switchboard-request-id"]
        assert rows[0]["status"] == 500
        assert rows[0]["outcome"] == Outcome.GATEWAY_ERROR


def test_it_keeps_a_minimal_row_when_the_row_cannot_be_built(rows, monkeypatch):
    monkeypatch.setattr(record, "build_row", raising)

    response, _ = serve(views.messages, "/v1/messages", HELLO)

    assert response.status_code == 200
    assert len(rows) == 1
    row = rows[0]
    assert row["request_id"] == response["x-switchboard-request-id"]
    assert row["status"] == 200
    assert row["outcome"] == Outcome.COMPLETED
    assert row["endpoint"] == "messages"
    assert row["notes"] == ["the full log row could not be built; see the process log"]


def test_it_keeps_the_row_without_a_field_that_fails(rows, monkeypatch):
    monkeypatch.setattr(record, "redact", raising)

    response, _ = serve(views.messages, "/v1/messages", HELLO)

    assert response.status_code == 200
    (row,) = rows
    assert row["request_headers"] == {}
    assert row["notes"] == ["log field request_headers could not be computed"]
    assert row["requested_model"] == "claude-x"
    assert row["input_tokens"] == 12  # the rest of the row is all there


def test_a_failing_log_writer_does_not_fail_the_request(rows, monkeypatch):
    monkeypatch.setattr(log_writer, "enqueue", raising)

    response, content = serve(views.messages, "/v1/messages", HELLO)

    assert response.status_code == 200
    assert orjson.loads(content)["type"] == "message"


def test_a_conversation_key_that_fails_gives_a_500_and_a_row(rows, monkeypatch):
    from gateway.ingress import anthropic as ingress

    monkeypatch.setattr(ingress, "conversation_key", raising)

    response, content = serve(views.messages, "/v1/messages", HELLO)

    assert_internal_error(response, content)
    (row,) = rows
    assert row["outcome"] == Outcome.GATEWAY_ERROR
    assert row["requested_model"] == "claude-x"  # read from the body for the row


def test_a_failure_in_the_middle_of_a_stream_ends_it_with_an_error_event(rows, monkeypatch):
    feed = MessageAccumulator.feed
    calls = {"n": 0}

    def feed_then_fail(self: MessageAccumulator, event: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 3:
            raise Injected("the log copy of the stream broke")
        feed(self, event)

    monkeypatch.setattr(MessageAccumulator, "feed", feed_then_fail)

    response, content = serve(views.messages, "/v1/messages", {**HELLO, "stream": True})

    assert response.status_code == 200
    assert content.startswith(b"event: message_start")
    last = content.strip().split(b"\n\n")[-1]
    assert last.startswith(b"event: error\n")
    request_id = response["x-switchboard-request-id"]
    assert f"request id {request_id}".encode() in last
    (row,) = rows
    assert row["outcome"] == Outcome.GATEWAY_ERROR
    assert row["stream"] is True


@override_settings(DEBUG=True)
def test_it_answers_json_even_with_debug_on(rows, monkeypatch):
    original = pipeline.MESSAGES
    monkeypatch.setattr(
        pipeline, "MESSAGES", Pipeline(original.endpoint, (raising_stage, *original.stages))
    )

    response, content = serve(views.messages, "/v1/messages", HELLO)

    assert_internal_error(response, content)
    assert len(rows) == 1


async def raising_stage(exchange: Any) -> None:
    raise Injected("first stage failed")


def test_a_pipeline_without_an_answer_is_a_500_not_a_hang(rows, monkeypatch):
    monkeypatch.setattr(pipeline, "MESSAGES", Pipeline("messages", ()))

    response, content = serve(views.messages, "/v1/messages", HELLO)

    assert_internal_error(response, content)
    assert len(rows) == 1


def test_a_request_django_cannot_read_still_gets_json_and_a_row(rows):
    """A query string that is not UTF-8 (uvicorn passes such bytes on): Django refuses it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/messages",
        "raw_path": b"/v1/messages",
        "query_string": b"beta=\xff",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8080"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        messages = [{"type": "http.request", "body": orjson.dumps(HELLO), "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.sleep(3600)  # the client stays until the answer is complete
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await GatewayASGIHandler()(scope, receive, send)

    asyncio.run(run())

    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = dict(start["headers"])
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 400
    assert headers[b"content-type"] == b"application/json"
    assert orjson.loads(body)["error"]["message"].startswith("the request could not be read")
    (row,) = rows
    assert row["request_id"] == headers[b"x-switchboard-request-id"].decode()
    assert row["status"] == 400
