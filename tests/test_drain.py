"""Graceful drain on SIGTERM: `manage.py serve` (proxysite/server.py, proxysite/drain.py).

Requests in flight when SIGTERM arrives either finish within
SWITCHBOARD_DRAIN_SECONDS or are ended with `event: error` (streams) or a
503 (JSON); every one has a log row; no new connection is accepted; the
process exits 0. uvicorn's own graceful shutdown and plain Daphne's
immediate one are checked with the same application: streams they cancel
still end with `event: error`, and their rows are flushed.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from proxysite.drain import DRAIN_TIMEOUT_REASON
from requestlog.models import RequestLog
from tests.fakes.upstream import (
    AnthropicMessage,
    AnthropicStream,
    FakeUpstream,
    Hang,
    ReceivedRequest,
    slow_stream,
)
from tests.live_gateway import LiveGateway

DRAIN_SECONDS = 2
STREAMS_PER_KIND = 10  # 20 streams: 10 finish within the drain window, 10 cannot
JSON_PER_KIND = 5  # 10 JSON requests: 5 and 5
CLIENT_TIMEOUT = 30.0
SETTLE_TIMEOUT = 20.0  # for everything to be in flight, and for the process to exit
NEVER = 120.0  # an upstream answer that no drain window waits for


@dataclass
class ByPrompt:
    """Answers by the prompt: "quick-N" once `release` is set, "slow-N" (practically) never."""

    release: threading.Event

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        payload = received.json()
        quick = payload["messages"][0]["content"].startswith("quick")
        if payload.get("stream"):
            behaviour: Any = (
                AnthropicStream(("one ", "two"), pause_after=2, release=self.release)
                if quick
                else slow_stream(interval=0.2, count=int(NEVER / 0.2))
            )
        elif quick:
            while not self.release.is_set():  # noqa: ASYNC110 (a thread-side event)
                await asyncio.sleep(0.01)
            behaviour = AnthropicMessage("done")
        else:
            behaviour = Hang(NEVER)
        return await behaviour.respond(request, received)


@dataclass
class Outcome:
    """What one client saw."""

    prompt: str
    status: int | None = None
    body: str = ""
    error: str = ""  # a transport error: the connection dropped without an answer
    started: threading.Event = field(default_factory=threading.Event)


def body_for(prompt: str, stream: bool) -> dict[str, Any]:
    return {
        "model": "claude-test",
        "max_tokens": 16,
        "stream": stream,
        "messages": [{"role": "user", "content": prompt}],
    }


def stream_client(url: str, outcome: Outcome) -> None:
    try:
        with httpx.Client(timeout=CLIENT_TIMEOUT) as client:
            with client.stream(
                "POST", url + "/v1/messages", json=body_for(outcome.prompt, True)
            ) as response:
                outcome.status = response.status_code
                for chunk in response.iter_text():
                    outcome.body += chunk
                    outcome.started.set()
    except httpx.HTTPError as exc:
        outcome.error = repr(exc)
    finally:
        outcome.started.set()


def json_client(url: str, outcome: Outcome) -> None:
    outcome.started.set()
    try:
        response = httpx.post(
            url + "/v1/messages", json=body_for(outcome.prompt, False), timeout=CLIENT_TIMEOUT
        )
        outcome.status, outcome.body = response.status_code, response.text
    except httpx.HTTPError as exc:
        outcome.error = repr(exc)


def connection_refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False  # accepted by the kernel before the socket closed, then reset
    return False


def sse_events(text: str) -> list[str]:
    return [line[len("event: ") :] for line in text.splitlines() if line.startswith("event: ")]


@pytest.fixture
def serve(anthropic_provider, tmp_path) -> Iterator[LiveGateway]:
    gateway = LiveGateway(
        env={"SWITCHBOARD_DRAIN_SECONDS": str(DRAIN_SECONDS)}, log_dir=tmp_path, server="serve"
    ).start()
    yield gateway
    gateway.stop()


def rows_by_prompt() -> dict[str, RequestLog]:
    return {
        json.loads(row.request_body)["messages"][0]["content"]: row
        for row in RequestLog.objects.all()
    }


def test_it_drains_in_flight_requests_on_sigterm_and_ends_the_rest(
    serve: LiveGateway, fake_upstream: FakeUpstream
):
    release = threading.Event()
    fake_upstream.set_default(ByPrompt(release))
    streams = [Outcome(f"{kind}-stream-{i}") for kind in ("quick", "slow") for i in range(10)]
    answers = [Outcome(f"{kind}-json-{i}") for kind in ("quick", "slow") for i in range(5)]
    assert len(streams) == 2 * STREAMS_PER_KIND and len(answers) == 2 * JSON_PER_KIND
    process = serve.process
    assert process is not None

    with ThreadPoolExecutor(max_workers=len(streams) + len(answers)) as pool:
        running = [pool.submit(stream_client, serve.url, o) for o in streams]
        running += [pool.submit(json_client, serve.url, o) for o in answers]
        fake_upstream.wait_for_requests(len(running), timeout=SETTLE_TIMEOUT)
        for outcome in streams:
            assert outcome.started.wait(SETTLE_TIMEOUT), outcome.prompt
        assert not any(o.error for o in streams), [o.error for o in streams]

        process.send_signal(signal.SIGTERM)
        refused_while_draining = False
        deadline = time.monotonic() + DRAIN_SECONDS / 2
        while time.monotonic() < deadline and not refused_while_draining:
            refused_while_draining = connection_refused(serve.port)
        still_running = process.poll() is None
        release.set()
        for future in running:
            future.result(timeout=SETTLE_TIMEOUT)

    assert process.wait(SETTLE_TIMEOUT) == 0, serve.output()
    assert refused_while_draining and still_running
    for outcome in streams + answers:
        assert outcome.error == "", (outcome.prompt, outcome.error)  # never a bare drop
    for outcome in streams:
        events = sse_events(outcome.body)
        if outcome.prompt.startswith("quick"):
            assert events[-1] == "message_stop" and "error" not in events, outcome.body
        else:
            assert events[0] == "message_start" and events[-1] == "error", outcome.body
            error = json.loads(outcome.body.rstrip().rsplit("data: ", 1)[1])
            assert error["error"]["type"] == "overloaded_error"
            assert "shutting down" in error["error"]["message"]
    for outcome in answers:
        if outcome.prompt.startswith("quick"):
            assert outcome.status == 200, outcome.body
            assert json.loads(outcome.body)["content"][0]["text"] == "done"
        else:
            assert outcome.status == 503, outcome.body
            assert json.loads(outcome.body)["error"]["type"] == "overloaded_error"

    serve.stop()
    rows = rows_by_prompt()
    assert sorted(rows) == sorted(o.prompt for o in streams + answers)
    for prompt, row in rows.items():
        if prompt.startswith("quick"):
            assert (row.outcome, row.status) == ("completed", 200), prompt
        else:
            assert (row.outcome, row.status) == ("cancelled", 499), (prompt, row.outcome)
            assert row.error_message == DRAIN_TIMEOUT_REASON, prompt


def test_it_exits_at_once_when_nothing_is_in_flight(serve: LiveGateway):
    assert httpx.get(serve.url + "/healthz", timeout=5).status_code == 200

    serve.stop()

    assert serve.returncode == 0, serve.output()


def test_uvicorn_ends_streams_with_an_error_event_and_flushes_their_rows(
    anthropic_provider, fake_upstream: FakeUpstream, tmp_path
):
    fake_upstream.set_default(slow_stream(interval=0.2, count=int(NEVER / 0.2)))
    gateway = LiveGateway(
        log_dir=tmp_path, server="uvicorn", args=["--timeout-graceful-shutdown", "1"]
    ).start()
    process = gateway.process
    assert process is not None
    outcome = Outcome("slow-uvicorn")
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            running = pool.submit(stream_client, gateway.url, outcome)
            assert outcome.started.wait(SETTLE_TIMEOUT)
            process.send_signal(signal.SIGTERM)
            running.result(timeout=SETTLE_TIMEOUT)
        # uvicorn re-raises the signal once its shutdown is complete.
        assert process.wait(SETTLE_TIMEOUT) == -signal.SIGTERM, gateway.output()
        assert "Application shutdown complete" in gateway.output()
    finally:
        gateway.stop()

    assert outcome.error == "" and sse_events(outcome.body)[-1] == "error", outcome.body
    [row] = RequestLog.objects.all()
    assert (row.outcome, row.status) == ("cancelled", 499)


def test_plain_daphne_ends_streams_at_once_but_each_gets_an_error_event_and_a_row(
    anthropic_provider, fake_upstream: FakeUpstream, tmp_path
):
    fake_upstream.set_default(slow_stream(interval=0.2, count=int(NEVER / 0.2)))
    gateway = LiveGateway(log_dir=tmp_path, server="daphne").start()
    process = gateway.process
    assert process is not None
    streams = [Outcome(f"slow-daphne-{i}") for i in range(STREAMS_PER_KIND)]
    try:
        with ThreadPoolExecutor(max_workers=len(streams)) as pool:
            running = [pool.submit(stream_client, gateway.url, o) for o in streams]
            for outcome in streams:
                assert outcome.started.wait(SETTLE_TIMEOUT)
            process.send_signal(signal.SIGTERM)
            for future in running:
                future.result(timeout=SETTLE_TIMEOUT)
        assert process.wait(SETTLE_TIMEOUT) == 0, gateway.output()
    finally:
        gateway.stop()

    for outcome in streams:
        assert outcome.error == "" and sse_events(outcome.body)[-1] == "error", outcome.body
    rows = RequestLog.objects.all()
    assert [(row.outcome, row.status) for row in rows] == [("cancelled", 499)] * len(streams)
