"""The attempts stage: each target in turn (fallbacks), each account in turn (rotation).

For every target of the route decision the adapter of the provider's wire
format builds the upstream request and the shared transport sends it.
Connect errors, timeouts, 429, 5xx and 529 move on to the next target (an
account-level 429/529/401/403 first cools that account down and tries the
provider's next one), as long as nothing has reached the client: a stream is
only handed on once its first chunk arrived. A client error from upstream
(400, 404...) ends the request: another target would refuse it too.

Stored credentials are attached only to requests that carried a valid
gateway key (closed by default). Without one, an Anthropic-format target
gets the client's own credential, and a target that needs a stored one is
skipped with a 401.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from django.http import HttpResponse

from gateway.credentials import NeedsGatewayKey, account_label, pick_credential
from gateway.exchange import Exchange, Opened
from gateway.relay import header, upstream_error_response
from providers.accounts import ACCOUNT_STATUSES, AccountsCoolingDown, accounts
from providers.anthropic.stream_log import MessageAccumulator
from providers.base import Call, Prepared
from providers.config import CredentialConfig
from providers.errors import (
    GatewayError,
    NoRouteAvailable,
    UpstreamError,
    UpstreamOverloaded,
)
from providers.registry import adapter_for
from providers.sse import SSEDecoder
from providers.transport import UpstreamResponse, get_transport
from routing.router import Target

#: Upstream statuses after which the next target (or account) is tried.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class LocalAnswer(Exception):
    """The target's adapter cannot serve this endpoint upstream; the gateway answers."""

    def __init__(self, call: Call) -> None:
        super().__init__(call.provider.name)
        self.call = call


async def open_upstream(exchange: Exchange, endpoint: str) -> HttpResponse | None:
    """Try each target and account until one answers; else the last error as the answer.

    Sets `exchange.opened` on success (None returned: the relay answers).
    Raises LocalAnswer when the first usable target cannot serve `endpoint`.
    """
    decision = exchange.decision
    assert decision is not None and exchange.request is not None, "routing runs first"
    last: HttpResponse | GatewayError | None = None
    for target in decision.targets:
        adapter = adapter_for(target.provider.wire_format)
        if endpoint == "count_tokens":
            _answer_locally_if_upstream_cannot_count(exchange, target)
        tried: set[str] = set()
        while True:
            try:
                credential = pick_credential(exchange, target.provider, tried)
            except AccountsCoolingDown as exc:
                if not tried:
                    exchange.attempt_skipped(target.provider.name, target.model, str(exc))
                    last = last or UpstreamOverloaded(str(exc))
                break
            except NeedsGatewayKey as exc:
                if not tried:
                    exchange.attempt_skipped(target.provider.name, target.model, exc.message)
                    last = last or exc
                break
            label = account_label(credential)
            tried.add(label)
            call = _call(exchange, target, credential)
            prepared: Prepared | None = (
                adapter.messages_request(call)
                if endpoint == "messages"
                else adapter.count_tokens_request(call)
            )
            if prepared is None:
                raise LocalAnswer(call)
            exchange.request_prepared(
                prepared.request.body if prepared.translated else b"", call.notes
            )
            attempt = exchange.attempt_started(target.provider.name, label, target.model)
            try:
                upstream = await get_transport().send(prepared.request)
            except UpstreamError as exc:
                exchange.attempt_ended(attempt, status=None, error=exc.message)
                last = exc
                break  # the provider is unreachable: next target
            exchange.attempt_ended(attempt, status=upstream.status)
            if upstream.status >= 400:
                response = await upstream_error_response(upstream, adapter, exchange)
                attempt.error = exchange.error_message
                last = response
                if (
                    credential is not None
                    and len(target.provider.credentials) > 1
                    and upstream.status in ACCOUNT_STATUSES
                ):
                    accounts.cool_down(
                        target.provider.name,
                        label,
                        upstream.status,
                        header(upstream, "retry-after"),
                    )
                    continue  # the next account of the same provider
                if upstream.status in RETRYABLE_STATUSES:
                    break  # next target
                return response  # the request itself is wrong: no fallback
            opened = Opened(upstream=upstream, adapter=adapter, call=call)
            if not is_event_stream(upstream):
                exchange.upstream_opened(opened)
                return None
            failure = await _start_stream(opened)
            if failure is None:
                exchange.upstream_opened(opened)
                return None
            attempt.error = failure.message
            last = failure
            break  # the stream failed before its first byte reached the client
    if isinstance(last, HttpResponse):
        return last
    raise last or NoRouteAvailable("no target could be tried")


def _call(exchange: Exchange, target: Target, credential: CredentialConfig | None) -> Call:
    request = exchange.request
    assert request is not None
    return Call(
        payload=request.payload,
        raw_body=request.body,
        requested_model=request.model,
        provider=target.provider,
        target_model=target.model,
        credential=credential,
        client_headers=exchange.headers,
        path=exchange.path,
        query=exchange.query,
    )


def _answer_locally_if_upstream_cannot_count(exchange: Exchange, target: Target) -> None:
    """A format without a counting endpoint needs no upstream (nor credential) to count."""
    call = _call(exchange, target, None)
    if adapter_for(target.provider.wire_format).count_tokens_request(call) is None:
        raise LocalAnswer(call)


async def _start_stream(opened: Opened) -> UpstreamError | None:
    """Read the stream's first chunk; an error there (or no chunk) allows a fallback."""
    relay = opened.adapter.relay_stream(opened.upstream, opened.call)
    try:
        first = await relay.__anext__()
    except StopAsyncIteration:
        first = b""
    except UpstreamError as exc:
        await relay.aclose()  # type: ignore[attr-defined]
        await opened.upstream.aclose()
        return exc
    if not first or first.startswith(b"event: error"):
        await relay.aclose()  # type: ignore[attr-defined]
        await opened.upstream.aclose()
        message = (
            (opened.call.message.error or {}).get("message")
            or _opening_error(first)
            or "the stream ended at once"
        )
        return UpstreamError(f"provider {opened.call.provider.name!r} failed: {message}")
    opened.stream = _prepend(first, relay)
    return None


def _opening_error(first: bytes) -> str:
    """The upstream's message in a stream's first chunk, `event: error`.

    A relayed stream's log copy sees a chunk only after it was handed on, so for
    the first one `call.message` does not know the error yet.
    """
    decoder, opening = SSEDecoder(), MessageAccumulator()
    for event in [*decoder.feed(first), *decoder.flush()]:
        opening.feed(event)
    return str((opening.error or {}).get("message") or "")


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()  # type: ignore[attr-defined]


def is_event_stream(upstream: UpstreamResponse) -> bool:
    return header(upstream, "content-type").startswith("text/event-stream")


async def try_targets(exchange: Exchange) -> HttpResponse | None:
    """POST /v1/messages: open the upstream answer that the relay stage sends on."""
    return await open_upstream(exchange, "messages")
