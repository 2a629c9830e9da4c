"""Faults upstream, met by a real gateway process: what the client gets, what the log says.

Each test starts the gateway as a Daphne process (tests/live_gateway.py) in front of fake
providers on 127.0.0.1 that misbehave on purpose (tests/fakes/upstream.py): a closed port,
a name that does not resolve, a TLS handshake with a plain-HTTP server, silence before the
headers or in the middle of a stream, a connection reset, 429/500/529 answers, broken or
compressed bodies, a 10 MB answer. For each the client gets an Anthropic-shaped error (or
the fallback's answer), the row says what happened (status, outcome, error, attempts), and
the process is still alive and answering /healthz afterwards. The last test runs every
fault again on one process and checks that its memory comes back to where it was.

An HTML page with a 200, JSON and streamed, is covered by tests/test_gateway_hardening_e2e.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway.record import TRUNCATION_MARKER
from requestlog.models import RequestLog
from routing.models import Credential, ModelAlias, Provider
from tests.clients import KEY_HEADER, KEYED_GATEWAY
from tests.fakes.upstream import (
    Behaviour,
    FakeUpstream,
    anthropic_error,
    anthropic_message,
    anthropic_stream,
    compressed,
    hang,
    not_http,
    raw,
    reset_after,
    reset_mid_body,
    sse_raw,
    truncated,
)
from tests.live_gateway import LiveGateway, free_port

#: Seconds of upstream silence the "slow" providers allow (their `read_timeout`).
SHORT_READ_TIMEOUT = 0.5
#: Seconds the misbehaving fakes stay silent: far longer than SHORT_READ_TIMEOUT.
SILENCE = 5.0
#: Seconds any one client request may take, whatever the fault.
CLIENT_TIMEOUT = 30.0
#: A host name that never resolves (RFC 6761 reserves .invalid).
UNRESOLVABLE_HOST = "does-not-exist.invalid"
#: About 10 MB of answer text, in stream deltas of 64 KiB.
BIG_CHUNK = "0123456789abcdef" * 4096
BIG_CHUNKS = 160
BIG_TEXT = BIG_CHUNK * BIG_CHUNKS

STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])


# --- helpers ---------------------------------------------------------------------------------
def send(
    gateway: LiveGateway,
    *,
    model: str = "claude-fault",
    stream: bool = False,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> httpx.Response:
    """POST /v1/messages (`?query`) and read the whole answer (a stream to its end)."""
    body = {
        "model": model,
        "max_tokens": 16,
        "stream": stream,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    return httpx.post(
        gateway.url + "/v1/messages" + (f"?{query}" if query else ""),
        content=orjson.dumps(body),
        headers={"content-type": "application/json", "x-api-key": "sk-client", **(headers or {})},
        timeout=CLIENT_TIMEOUT,
    )


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, parsed data) for each event of an SSE body."""
    events = []
    for block in text.strip().split("\n\n"):
        name, data = "", ""
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
        events.append((name, orjson.loads(data)))
    return events


def streamed_text(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(
        data["delta"].get("text", "") for name, data in events if name == "content_block_delta"
    )


def answer_text(response: httpx.Response) -> str:
    """The text of a successful answer, JSON or streamed."""
    assert response.status_code == 200, response.text[:500]
    if response.headers["content-type"].startswith("text/event-stream"):
        events = sse_events(response.text)
        assert events[-1][0] == "message_stop", events[-3:]
        return streamed_text(events)
    return "".join(block["text"] for block in response.json()["content"])


def assert_error(response: httpx.Response, status: int, error_type: str, *says: str) -> str:
    """An Anthropic error answer with this status and type; returns its message."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type, body
    message = body["error"]["message"]
    for fragment in says:
        assert fragment in message, message
    assert response.headers["x-switchboard-request-id"].startswith("sbreq_")
    return message


def assert_stream_ends_with_error(response: httpx.Response, error_type: str, *says: str) -> list:
    """A stream that began (200, message_start) and ends with `event: error`."""
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[0][0] == "message_start"
    name, data = events[-1]
    assert name == "error" and data["type"] == "error", events[-3:]
    assert data["error"]["type"] == error_type, data
    for fragment in says:
        assert fragment in data["error"]["message"], data
    assert "message_stop" not in [n for n, _ in events]
    return events


def rows_of(gateway: LiveGateway) -> list[RequestLog]:
    """Check the process is alive and healthy, stop it (its writer flushes), return the rows."""
    assert gateway.process is not None and gateway.process.poll() is None, gateway.output()
    assert httpx.get(gateway.url + "/healthz", timeout=5).status_code == 200
    gateway.stop()
    assert "Traceback" not in gateway.output(), gateway.output()
    return list(RequestLog.objects.order_by("started_at", "id"))


def attempts(row: RequestLog) -> list[tuple[str, int | None]]:
    return [(a["provider"], a["status"]) for a in row.attempts]


def point(provider: Provider, base_url: str, **fields: Any) -> Provider:
    provider.base_url = base_url
    for name, value in fields.items():
        setattr(provider, name, value)
    provider.save()
    return provider


@pytest.fixture
def backup(transactional_db, second_upstream: FakeUpstream) -> Provider:
    """A second Anthropic-format provider (the fallback target)."""
    return Provider.objects.create(
        name="backup", wire_format="anthropic", base_url=second_upstream.url
    )


@pytest.fixture
def smart_alias(anthropic_provider: Provider, backup: Provider) -> str:
    """The model name `smart`: anthropic:first, falling back to backup:second."""
    ModelAlias.objects.create(
        alias="smart",
        provider=anthropic_provider,
        target_model="first",
        fallbacks=["backup:second"],
    )
    return "smart"


@pytest.fixture
def dns_stub(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """Environment that makes the gateway's resolver fail for `.invalid` names, and its log.

    The gateway's resolver is `socket.getaddrinfo` (aiohttp's default ThreadedResolver and
    httpx's anyio both call it through the event loop). A `sitecustomize` module on the
    gateway's PYTHONPATH wraps it: a `.invalid` name fails with EAI_NONAME, as a resolver's
    NXDOMAIN does, and is written to a file; every other name goes to the real resolver.
    """
    stub = tmp_path / "dns-stub"
    stub.mkdir()
    lookups = tmp_path / "dns-lookups.txt"
    (stub / "sitecustomize.py").write_text(
        "import socket\n"
        "_real_getaddrinfo = socket.getaddrinfo\n"
        "def getaddrinfo(host, *args, **kwargs):\n"
        "    name = host.decode() if isinstance(host, bytes) else str(host)\n"
        "    if name.rstrip('.').lower().endswith('.invalid'):\n"
        f"        with open({str(lookups)!r}, 'a') as log:\n"
        "            log.write(name + '\\n')\n"
        "        raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')\n"
        "    return _real_getaddrinfo(host, *args, **kwargs)\n"
        "socket.getaddrinfo = getaddrinfo\n"
    )
    yield {"PYTHONPATH": str(stub)}, lookups


# --- the connection ----------------------------------------------------------------------------
@STREAMS
def test_it_answers_a_refused_connection_with_a_502(anthropic_provider, start_gateway, stream):
    point(anthropic_provider, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    gateway = start_gateway()

    response = send(gateway, stream=stream)

    assert_error(response, 502, "api_error", "could not connect to provider 'anthropic'")
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.stream) == (502, "upstream_error", stream)
    assert "could not connect to provider 'anthropic'" in row.error_message
    assert attempts(row) == [("anthropic", None)]
    assert row.attempts[0]["error"] == row.error_message


@STREAMS
def test_it_falls_back_when_the_first_target_refuses_the_connection(
    anthropic_provider, smart_alias, start_gateway, second_upstream, stream
):
    point(anthropic_provider, f"http://127.0.0.1:{free_port()}")
    gateway = start_gateway()
    second_upstream.set_default(anthropic_message("from the fallback"))

    response = send(gateway, model=smart_alias, stream=stream)

    assert answer_text(response) == "from the fallback"
    assert response.headers["x-switchboard-provider"] == "backup"
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.error_message) == (200, "completed", "")
    assert attempts(row) == [("anthropic", None), ("backup", 200)]
    assert "could not connect" in row.attempts[0]["error"]


@STREAMS
def test_it_answers_a_name_that_does_not_resolve_with_a_502(
    anthropic_provider, start_gateway, dns_stub, stream
):
    """DNS failure, with no packet leaving the machine.

    This machine's resolver (/etc/resolv.conf) is a name server on another address, so a
    real lookup of `does-not-exist.invalid` would send a query off the box, and how fast
    it fails would depend on that server. The gateway runs with a resolver stub instead
    (the `dns_stub` fixture): the same call the transport makes, failing as NXDOMAIN does.
    """
    env, lookups = dns_stub
    point(anthropic_provider, f"http://{UNRESOLVABLE_HOST}:8080")
    gateway = start_gateway(**env)

    response = send(gateway, stream=stream)

    message = assert_error(
        response, 502, "api_error", "could not connect to provider 'anthropic'", "did not resolve"
    )
    assert UNRESOLVABLE_HOST not in message  # the provider's URL is configuration, not for clients
    assert lookups.read_text().split() == [UNRESOLVABLE_HOST]  # the stub answered, nothing else
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome) == (502, "upstream_error")
    assert attempts(row) == [("anthropic", None)] and row.error_message == message


@STREAMS
def test_it_answers_a_failed_tls_handshake_with_a_502(
    anthropic_provider, start_gateway, fake_upstream, stream
):
    point(anthropic_provider, fake_upstream.url.replace("http://", "https://"))
    gateway = start_gateway()

    response = send(gateway, stream=stream)

    message = assert_error(response, 502, "api_error", "provider 'anthropic'")
    assert "TLS" in message or "SSL" in message
    assert fake_upstream.requests == []  # the handshake failed: no request was made
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome) == (502, "upstream_error")
    assert attempts(row) == [("anthropic", None)] and row.error_message == message


# --- silence -----------------------------------------------------------------------------------
@STREAMS
def test_it_answers_an_upstream_that_sends_no_headers_with_a_504(
    anthropic_provider, start_gateway, fake_upstream, stream
):
    point(anthropic_provider, fake_upstream.url, read_timeout=SHORT_READ_TIMEOUT)
    gateway = start_gateway()
    fake_upstream.queue(hang(SILENCE))

    response = send(gateway, stream=stream)

    assert_error(response, 504, "timeout", "provider 'anthropic' did not answer in time")
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.error_type) == (504, "upstream_error", "timeout")
    assert attempts(row) == [("anthropic", None)]


def test_it_ends_a_stream_that_stalls_with_an_error_event(
    anthropic_provider, start_gateway, fake_upstream
):
    point(anthropic_provider, fake_upstream.url, read_timeout=SHORT_READ_TIMEOUT)
    gateway = start_gateway()
    never = threading.Event()
    fake_upstream.queue(anthropic_stream(("Hel", "lo"), pause_after=3, release=never))

    response = send(gateway, stream=True)

    events = assert_stream_ends_with_error(response, "timeout", "did not answer in time")
    assert streamed_text(events) == "Hel"
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.error_type) == (200, "upstream_error", "timeout")
    assert "did not answer in time" in row.error_message
    assert orjson.loads(row.response_body)["content"] == [{"type": "text", "text": "Hel"}]


def test_it_answers_a_json_body_that_stalls_with_a_504(
    anthropic_provider, start_gateway, fake_upstream
):
    point(anthropic_provider, fake_upstream.url, read_timeout=SHORT_READ_TIMEOUT)
    gateway = start_gateway()
    halves = [b'{"type": "message", "content": [', b"]}"]
    fake_upstream.queue(sse_raw(halves, delay=SILENCE, content_type="application/json"))

    response = send(gateway)

    assert_error(response, 504, "timeout", "did not answer in time")
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome) == (504, "upstream_error")
    assert attempts(row) == [("anthropic", 200)]


# --- a broken connection -----------------------------------------------------------------------
def test_it_ends_a_stream_cut_by_a_reset_with_an_error_event(gateway, fake_upstream):
    fake_upstream.queue(reset_after(4))  # message_start, block start, two deltas

    response = send(gateway, stream=True)

    events = assert_stream_ends_with_error(response, "api_error", "connection to provider")
    assert streamed_text(events) == "one two "
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.error_type) == (200, "upstream_error", "api_error")
    assert "connection to provider 'anthropic' broke" in row.error_message
    assert orjson.loads(row.response_body)["content"][0]["text"] == "one two "


def test_it_answers_a_json_body_cut_by_a_reset_with_a_502(gateway, fake_upstream):
    body = orjson.dumps({"type": "message", "content": [{"type": "text", "text": "x" * 500}]})
    fake_upstream.queue(reset_mid_body(body, after=100))

    response = send(gateway)

    assert_error(response, 502, "api_error", "connection to provider 'anthropic' broke")
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome) == (502, "upstream_error")
    assert attempts(row) == [("anthropic", 200)]


@STREAMS
def test_an_upstream_that_does_not_speak_http_is_a_502_without_the_url(
    gateway, fake_upstream, stream
):
    fake_upstream.queue(not_http())

    response = send(gateway, stream=stream, query="beta=true&key=sk-in-the-query")

    message = assert_error(response, 502, "api_error", "provider 'anthropic'")
    assert "sk-in-the-query" not in message and "127.0.0.1" not in message
    assert fake_upstream.requests[0].query_string == "beta=true&key=sk-in-the-query"
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.error_message) == (502, "upstream_error", message)
    assert "sk-in-the-query" not in orjson.dumps(row.attempts).decode()


# --- upstream error answers --------------------------------------------------------------------
@STREAMS
def test_it_relays_a_429_with_its_retry_after(gateway, fake_upstream, stream):
    fake_upstream.queue(
        anthropic_error(429, "rate_limit_error", "slow down", headers={"retry-after": "17"})
    )

    response = send(gateway, stream=stream)

    assert_error(response, 429, "rate_limit_error", "slow down")
    assert response.headers["retry-after"] == "17"
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.error_type) == (429, "upstream_error", "rate_limit_error")
    assert row.error_message == "slow down"
    assert attempts(row) == [("anthropic", 429)] and row.attempts[0]["error"] == "slow down"
    assert "slow down" in row.upstream_response_body


@STREAMS
def test_a_429_moves_to_the_second_account_and_cools_the_first_down(
    anthropic_provider, start_gateway, fake_upstream, stream
):
    for label in ("first", "second"):
        credential = Credential(provider=anthropic_provider, label=label)
        credential.set_secret(f"sk-ant-{label}")
        credential.save()
    gateway = start_gateway(**KEYED_GATEWAY)
    fake_upstream.queue(
        anthropic_error(429, "rate_limit_error", "slow down", headers={"retry-after": "60"})
    )

    answers = [send(gateway, stream=stream, headers=KEY_HEADER) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    keys = [r.headers["x-api-key"] for r in fake_upstream.requests]
    assert keys == ["sk-ant-first", "sk-ant-second", "sk-ant-second", "sk-ant-second"]
    ready = httpx.get(gateway.url + "/readyz", timeout=5).json()
    assert ready["cooling_accounts"] == ["anthropic/first"]
    rows = rows_of(gateway)
    assert [[(a["account"], a["status"]) for a in r.attempts] for r in rows] == [
        [("first", 429), ("second", 200)],
        [("second", 200)],
        [("second", 200)],
    ]
    assert [(r.status, r.outcome) for r in rows] == [(200, "completed")] * 3


@pytest.mark.parametrize(("status", "error_type"), [(500, "api_error"), (529, "overloaded_error")])
@STREAMS
def test_it_relays_a_500_or_529_anthropic_shaped(
    gateway, fake_upstream, status, error_type, stream
):
    fake_upstream.queue(anthropic_error(status, error_type, "upstream trouble"))

    response = send(gateway, stream=stream)

    assert_error(response, status, error_type, "upstream trouble")
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.error_type) == (status, "upstream_error", error_type)
    assert attempts(row) == [("anthropic", status)]


@pytest.mark.parametrize("status", [500, 529])
@STREAMS
def test_the_fallback_answers_after_a_500_or_529(
    smart_alias, start_gateway, fake_upstream, second_upstream, status, stream
):
    gateway = start_gateway()
    fake_upstream.queue(anthropic_error(status, "api_error", "first is down"))
    second_upstream.set_default(anthropic_message("the fallback speaks"))

    response = send(gateway, model=smart_alias, stream=stream)

    assert answer_text(response) == "the fallback speaks"
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.provider, row.target_model) == (
        200,
        "completed",
        "backup",
        "second",
    )
    assert attempts(row) == [("anthropic", status), ("backup", 200)]
    assert row.attempts[0]["error"] == "first is down"


OVERLOADED_EVENT = sse_raw(
    [
        b'event: error\ndata: {"type": "error", "error": '
        b'{"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    ]
)


def test_an_error_event_before_anything_was_relayed_is_a_502_naming_it(gateway, fake_upstream):
    fake_upstream.queue(OVERLOADED_EVENT)

    response = send(gateway, stream=True)

    message = assert_error(response, 502, "api_error", "provider 'anthropic' failed: Overloaded")
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.error_message) == (502, "upstream_error", message)
    assert attempts(row) == [("anthropic", 200)] and row.attempts[0]["error"] == message


def test_an_error_event_before_anything_was_relayed_falls_back(
    smart_alias, start_gateway, fake_upstream, second_upstream
):
    fake_upstream.queue(OVERLOADED_EVENT)
    second_upstream.set_default(anthropic_stream(("fine",)))
    gateway = start_gateway()

    response = send(gateway, model=smart_alias, stream=True)

    assert answer_text(response) == "fine"
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome) == (200, "completed")
    assert attempts(row) == [("anthropic", 200), ("backup", 200)]
    assert row.attempts[0]["error"] == "provider 'anthropic' failed: Overloaded"


# --- broken answers ----------------------------------------------------------------------------
@pytest.mark.parametrize("wire_format", ["anthropic", "openai"])
def test_malformed_json_in_a_200_becomes_a_502_and_is_kept_in_the_log(
    anthropic_provider, start_gateway, fake_upstream, wire_format
):
    anthropic_provider.wire_format = wire_format
    anthropic_provider.save()
    gateway = start_gateway()
    broken = b'{"type": "message", "content": [{"type": "text", "text": "cut here'
    fake_upstream.queue(raw(broken, content_type="application/json"))

    response = send(gateway)

    assert_error(response, 502, "api_error", "provider 'anthropic'", "not JSON", "cut here")
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome) == (502, "upstream_error")
    assert "not JSON" in row.error_message
    assert row.upstream_response_body == broken.decode()
    assert attempts(row) == [("anthropic", 200)]


def test_a_stream_without_message_stop_ends_with_an_error_event(gateway, fake_upstream):
    fake_upstream.queue(truncated(anthropic_stream(("all ", "there")), drop=1))

    response = send(gateway, stream=True)

    events = assert_stream_ends_with_error(response, "api_error", "before message_stop")
    assert streamed_text(events) == "all there"
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.error_type) == (200, "upstream_error", "api_error")
    assert "before message_stop" in row.error_message


# --- content encoding --------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@STREAMS
def test_a_compressed_answer_reaches_the_client_decoded(gateway, fake_upstream, encoding, stream):
    """The gateway asks for `identity`; an upstream that compresses anyway is decoded.

    The gateway relays the bytes it reads and parses them for the log (and translation), and
    does not relay `content-encoding`: the body must be decoded before it is relayed.
    """
    fake_upstream.queue(compressed(anthropic_message("squeezed answer"), encoding=encoding))

    response = send(gateway, stream=stream)

    assert answer_text(response) == "squeezed answer"
    assert "content-encoding" not in response.headers
    assert fake_upstream.requests[0].headers["accept-encoding"] == "identity"
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome) == (200, "completed")
    assert "squeezed answer" in row.response_body


@pytest.mark.parametrize("encoding", ["br", "x-custom"])
@STREAMS
def test_an_encoding_the_gateway_cannot_decode_is_a_502(gateway, fake_upstream, encoding, stream):
    fake_upstream.queue(compressed(anthropic_message("hidden"), encoding=encoding))

    response = send(gateway, stream=stream)

    message = assert_error(response, 502, "api_error", "content-encoding", repr(encoding))
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome, row.error_message) == (502, "upstream_error", message)


# --- size ------------------------------------------------------------------------------------
@STREAMS
def test_a_10_mb_answer_is_relayed_whole_and_capped_in_the_log(gateway, fake_upstream, stream):
    if stream:
        fake_upstream.queue(anthropic_stream([BIG_CHUNK] * BIG_CHUNKS))
    else:
        fake_upstream.queue(anthropic_message(BIG_TEXT))

    response = send(gateway, stream=stream)

    assert answer_text(response) == BIG_TEXT
    (row,) = rows_of(gateway)
    assert (row.status, row.outcome) == (200, "completed")
    marker_start = TRUNCATION_MARKER.split("{", 1)[0]
    assert marker_start in row.response_body
    assert len(row.response_body.encode()) < 1024 * 1024


# --- every fault on one process: the httpx transport, and memory -------------------------------
@dataclass(frozen=True)
class Fault:
    """One fault as the shared-process tests run it: what to send, what the fake does, and
    what the client must get: a status (an error answer), OK (a whole answer) or
    EVENT_ERROR (a stream that began and ends with an `event: error` of `error_type`)."""

    name: str
    model: str
    stream: bool
    expect: int | str
    upstream: tuple[Behaviour, ...] = ()
    error_type: str = "api_error"


OK = "a whole answer"
EVENT_ERROR = "a stream ending with event: error"
NEVER = threading.Event()  # never set: a stream paused on it stays silent


def stalled_json() -> Behaviour:
    halves = [b'{"type": "message", "content": [', b"]}"]
    return sse_raw(halves, delay=SILENCE, content_type="application/json")


def rate_limited(retry_after: str) -> Behaviour:
    return anthropic_error(429, "rate_limit_error", "slow down", {"retry-after": retry_after})


def every_fault() -> list[Fault]:
    """Each fault of this file, JSON and streamed where both make sense."""
    down, busy = (
        anthropic_error(500, "api_error", "x"),
        anthropic_error(529, "overloaded_error", "x"),
    )
    faults = []
    for stream in (False, True):
        faults += [
            Fault("refused", "refused,m", stream, 502),
            Fault("dns", "nxdomain,m", stream, 502),
            Fault("tls", "tls,m", stream, 502),
            Fault("slow headers", "slow,m", stream, 504, (hang(SILENCE),)),
            Fault("not http", "anthropic,m", stream, 502, (not_http(),)),
            Fault("429", "anthropic,m", stream, 429, (rate_limited("3"),)),
            Fault("429, second account", "pool,m", stream, OK, (rate_limited("0.05"),)),
            Fault("500", "anthropic,m", stream, 500, (down,)),
            Fault("529", "anthropic,m", stream, 529, (busy,)),
            Fault("500, fallback", "smart", stream, OK, (down,)),
            Fault("gzip", "anthropic,m", stream, OK, (compressed(anthropic_message("z")),)),
            Fault("br", "anthropic,m", stream, 502, (compressed(encoding="br"),)),
            Fault(
                "html", "anthropic,m", stream, 502, (raw(b"<html>login</html>", 200, "text/html"),)
            ),
        ]
    stall = anthropic_stream(pause_after=3, release=NEVER)
    cut_json = reset_mid_body(b'{"type": "m"}' * 50, after=100)
    malformed = raw(b'{"cut', content_type="application/json")
    big_stream = anthropic_stream([BIG_CHUNK] * BIG_CHUNKS)
    return [
        *faults,
        Fault("stall", "slow,m", True, EVENT_ERROR, (stall,), error_type="timeout"),
        Fault("stalled json", "slow,m", False, 504, (stalled_json(),)),
        Fault("reset", "anthropic,m", True, EVENT_ERROR, (reset_after(4),)),
        Fault("reset json", "anthropic,m", False, 502, (cut_json,)),
        Fault("malformed json", "anthropic,m", False, 502, (malformed,)),
        Fault("truncated", "anthropic,m", True, EVENT_ERROR, (truncated(),)),
        Fault("error event", "anthropic,m", True, 502, (OVERLOADED_EVENT,)),
        Fault("10 MB", "anthropic,m", False, OK, (anthropic_message(BIG_TEXT),)),
        Fault("10 MB stream", "anthropic,m", True, OK, (big_stream,)),
    ]


@pytest.fixture
def fault_providers(anthropic_provider, backup, fake_upstream, transactional_db) -> None:
    """One provider per way to fail, named in the model field (`provider,model`)."""
    Provider.objects.create(name="refused", base_url=f"http://127.0.0.1:{free_port()}")
    Provider.objects.create(name="nxdomain", base_url=f"http://{UNRESOLVABLE_HOST}:8080")
    Provider.objects.create(name="tls", base_url=fake_upstream.url.replace("http:", "https:"))
    Provider.objects.create(
        name="slow", base_url=fake_upstream.url, read_timeout=SHORT_READ_TIMEOUT
    )
    pool = Provider.objects.create(name="pool", base_url=fake_upstream.url)
    for label in ("a", "b"):
        credential = Credential(provider=pool, label=label)
        credential.set_secret(f"sk-ant-pool-{label}")
        credential.save()
    ModelAlias.objects.create(
        alias="smart",
        provider=anthropic_provider,
        target_model="first",
        fallbacks=["backup:second"],
    )


def meet(gateway: LiveGateway, fake: FakeUpstream, fault: Fault) -> httpx.Response:
    """Send one request into `fault` and check what the client got."""
    fake.queue(*fault.upstream)
    response = send(gateway, model=fault.model, stream=fault.stream, headers=KEY_HEADER)
    where = f"{fault.name} ({'stream' if fault.stream else 'json'})"
    if fault.expect == OK:
        assert answer_text(response), where
    elif fault.expect == EVENT_ERROR:
        assert_stream_ends_with_error(response, fault.error_type)
    else:
        body = response.json()
        assert response.status_code == fault.expect, (where, body)
        assert body["type"] == "error" and body["error"]["message"], (where, body)
    return response


def ordinary_round(gateway: LiveGateway, count: int) -> list[httpx.Response]:
    """`count` ordinary requests, JSON and streamed in turn."""
    responses = []
    for i in range(count):
        response = send(gateway, stream=bool(i % 2), headers=KEY_HEADER)
        assert answer_text(response)
        responses.append(response)
    return responses


def test_the_httpx_transport_meets_every_fault_the_same_way(
    fault_providers, start_gateway, fake_upstream, second_upstream, dns_stub
):
    env, _ = dns_stub
    gateway = start_gateway(**env, **KEYED_GATEWAY, SWITCHBOARD_HTTP_CLIENT="httpx")

    responses = [meet(gateway, fake_upstream, fault) for fault in every_fault()]

    rows = rows_of(gateway)
    assert [r.status for r in rows] == [r.status_code for r in responses]


#: Ordinary requests before the baseline is taken, and again after the faults.
WARM_UP_REQUESTS = 40
#: How many times each fault is met.
FAULT_ROUNDS = 3
#: How far above its warmed-up baseline the process's memory may end.
RSS_TOLERANCE = 0.10


def rss_kib(gateway: LiveGateway) -> int:
    """The process's resident set size (VmRSS, KiB), from /proc."""
    assert gateway.process is not None
    for line in Path(f"/proc/{gateway.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS line")


def test_the_process_survives_every_fault_and_its_memory_comes_back(
    fault_providers, start_gateway, fake_upstream, second_upstream, dns_stub
):
    """Each fault four times on one process: no crash, no row lost, no memory kept.

    The baseline is taken after a warm-up that met every fault once.

    The process fixes glibc's mmap threshold itself (proxysite/memory.py), as every
    gateway process does, so freed 10 MB buffers go back to the system: what would
    still show is memory kept for good. Measured: +2.0%, +3.3%, +2.6% in three runs.
    """
    env, _ = dns_stub
    gateway = start_gateway(**env, **KEYED_GATEWAY)
    faults = every_fault()

    # Warm up with every kind of request once: lazy imports, one connection pool per
    # upstream, the database's page cache. What grows after that is what is kept.
    responses = ordinary_round(gateway, WARM_UP_REQUESTS)
    responses += [meet(gateway, fake_upstream, fault) for fault in faults]
    responses += ordinary_round(gateway, WARM_UP_REQUESTS)
    baseline = rss_kib(gateway)
    for _ in range(FAULT_ROUNDS):
        responses += [meet(gateway, fake_upstream, fault) for fault in faults]
    responses += ordinary_round(gateway, WARM_UP_REQUESTS)
    after = rss_kib(gateway)

    print(
        f"faults: {len(faults)} x {FAULT_ROUNDS}; requests: {len(responses)}; "
        f"RSS baseline {baseline} KiB, after {after} KiB ({(after - baseline) / baseline:+.1%})"
    )
    assert after <= baseline * (1 + RSS_TOLERANCE), (baseline, after)
    rows = rows_of(gateway)  # alive, healthy, then stopped
    assert len(rows) == len(responses)  # no row lost
    assert [r.status for r in rows] == [r.status_code for r in responses]
