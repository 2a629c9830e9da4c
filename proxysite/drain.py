"""The HTTP requests in flight, and how one that a shutdown cannot wait for is ended.

`InFlightRequests` wraps the HTTP application (proxysite/asgi.py). It knows
every request still running and what the application has sent for it: has
the response started, is it an event stream, is it complete. On SIGTERM,
`manage.py serve` (proxysite/server.py) waits until it is empty or the drain
window has passed, then calls `end_all()`: each remaining request gets
`scope["switchboard.cancel_reason"]` (its log row says why) and is cancelled;
the request path logs it as cancelled, and this wrapper finishes the
client's answer, so nobody sees a bare connection drop:

- a stream gets `event: error` (`overloaded_error`) and the end of its body;
- a request not answered yet gets a 503 with an Anthropic-shaped `overloaded_error`;
- a complete answer is left alone.

Any other server that cancels a request gets the same answers (uvicorn past
`--timeout-graceful-shutdown`, Daphne at exit), without the reason in the row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from gateway.exchange import CANCEL_REASON_SCOPE_KEY
from providers.errors import error_body

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
T = TypeVar("T")

#: Written to the log row of a request the drain had to end.
DRAIN_TIMEOUT_REASON = "the gateway shut down before the request finished (drain timeout)"
#: What the client of such a request is told.
SHUTDOWN_MESSAGE = (
    "the gateway is shutting down and could not finish this request in time; retry it"
)
SHUTDOWN_ERROR_TYPE = "overloaded_error"
SHUTDOWN_STATUS = 503


class WatchedSet(Generic[T]):
    """A set that can be waited on until it is empty (from the event loop's thread)."""

    def __init__(self) -> None:
        self._items: set[T] = set()
        self._waiters: set[asyncio.Future[None]] = set()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items))

    def add(self, item: T) -> None:
        self._items.add(item)

    def discard(self, item: T) -> None:
        self._items.discard(item)
        if not self._items:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait_until_empty(self, within: float) -> bool:
        """Wait up to `within` seconds for the set to empty; True if it did."""
        if not self._items:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            async with asyncio.timeout(within):
                await waiter
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)
        return not self._items


def shutdown_error_body() -> bytes:
    return orjson.dumps(error_body(SHUTDOWN_ERROR_TYPE, SHUTDOWN_MESSAGE))


def shutdown_error_event() -> bytes:
    return b"event: error\ndata: " + shutdown_error_body() + b"\n\n"


def _is_event_stream(headers: Any) -> bool:
    for name, value in headers or ():
        if bytes(name).lower() == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower() == b"text/event-stream"
    return False


@dataclass(eq=False)
class RequestInFlight:
    """One HTTP request and what has been sent for it so far."""

    scope: Scope
    task: asyncio.Task[Any] | None
    response_started: bool = False
    event_stream: bool = False
    response_complete: bool = False
    ended_by_server: bool = False

    def note_sent(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
            self.event_stream = _is_event_stream(message.get("headers"))
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.response_complete = True

    async def answer_cancelled(self, send: Send) -> None:
        """Finish the client's answer after the server cancelled the application."""
        if self.response_complete:
            return
        if not self.response_started:
            body = shutdown_error_body()
            await send(
                {
                    "type": "http.response.start",
                    "status": SHUTDOWN_STATUS,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
        elif self.event_stream:
            body = shutdown_error_event()
        else:
            body = b""  # a JSON answer cut short: the client sees it end early
        await send({"type": "http.response.body", "body": body, "more_body": False})
        self.response_complete = True


class InFlightRequests:
    """An ASGI wrapper around the HTTP application that tracks its requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._requests: WatchedSet[RequestInFlight] = WatchedSet()

    def __len__(self) -> int:
        return len(self._requests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = RequestInFlight(scope=scope, task=asyncio.current_task())
        self._requests.add(request)

        async def tracked_send(message: Message) -> None:
            request.note_sent(message)
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except asyncio.CancelledError:
            # The server ended this request (the drain, or a server stopping).
            # The request path has logged it; the client still gets an answer.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            try:
                await request.answer_cancelled(send)
            except Exception:
                logger.debug("could not answer a cancelled request", exc_info=True)
        finally:
            self._requests.discard(request)

    def end_all(self, reason: str) -> int:
        """Cancel every request still running, saying why in its scope; how many."""
        ended = 0
        for request in self._requests:
            if request.task is None or request.task.done() or request.ended_by_server:
                continue
            request.scope[CANCEL_REASON_SCOPE_KEY] = reason
            request.ended_by_server = True
            request.task.cancel()
            ended += 1
        return ended

    async def wait_until_empty(self, within: float) -> bool:
        """Wait up to `within` seconds for every request to end; True if they did."""
        return await self._requests.wait_until_empty(within)
