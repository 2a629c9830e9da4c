"""Daphne with the limits a public server needs and a graceful drain (`manage.py serve`).

Plain Daphne receives a whole request (into a temporary file past 100 KB)
before the application sees any of it, keeps a connection that trickles
header bytes open for as long as the bytes keep coming, and on SIGTERM
cancels every request at once and exits. Here, with Daphne's own classes
subclassed:

- `LimitedHTTPChannel` (Twisted's HTTP/1.1 parser) refuses a request as soon
  as its headers are in when, on /v1/*, it carries no gateway key, or it
  declares a body over SWITCHBOARD_MAX_BODY_BYTES: the body is never
  received (proxysite/refusals.py decides; the refused /v1/* request is
  logged). A chunked body is counted as it arrives and refused at the cap,
  so at most the cap reaches the temporary file. A connection whose request
  headers are not complete within SWITCHBOARD_HEADER_TIMEOUT_SECONDS is
  closed (slowloris), and one silent for SWITCHBOARD_IDLE_TIMEOUT_SECONDS too.
- `DrainingServer`: on SIGTERM or SIGINT it closes its listening sockets and
  idle keep-alive connections, lets the requests in flight finish for
  SWITCHBOARD_DRAIN_SECONDS, ends the rest (proxysite/drain.py), flushes the
  log writer and stops; a second signal ends the wait at once.
"""

from __future__ import annotations

# Daphne installs Twisted's asyncio reactor on import: before anything imports another.
from daphne.server import Server  # isort:skip

import asyncio
import logging
import signal
from dataclasses import dataclass
from typing import Any

from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.ws_protocol import WebSocketFactory
from django.conf import settings
from twisted.internet import reactor
from twisted.internet.endpoints import serverFromString
from twisted.logger import globalLogBeginner
from twisted.web import http

from gateway.exchange import CLIENT_CLOSED_REQUEST
from providers.errors import GatewayError
from proxysite.drain import DRAIN_TIMEOUT_REASON, InFlightRequests, WatchedSet
from proxysite.refusals import (
    body_over_cap,
    error_json,
    is_gateway_path,
    log_refusal,
    refusal_before_body,
    response_headers,
    split_target,
)
from requestlog.writer import log_writer

logger = logging.getLogger(__name__)

#: After a refusal or a header timeout, how long a client that does not read
#: the answer may keep the connection before it is aborted.
ABORT_AFTER_SECONDS = 2.0
#: After ending the last requests, how long their tasks may take to finish.
END_GRACE_SECONDS = 5.0
#: How long client connections may take to send what they were given before exit.
CLOSE_GRACE_SECONDS = 2.0
HEADER_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
)
STATUS_REASONS = {401: b"Unauthorized", 413: b"Content Too Large"}


@dataclass(frozen=True)
class RequestHead:
    """What is known of a request once its headers are in."""

    method: str
    path: str
    query: str
    headers: list[tuple[bytes, bytes]]
    client_ip: str | None


def raw_response(exc: GatewayError, request_id: str | None) -> bytes:
    """A complete HTTP/1.1 answer that also closes the connection."""
    body = error_json(exc)
    reason = STATUS_REASONS.get(exc.status, b"Error")
    lines = [b"HTTP/1.1 %d %s" % (exc.status, reason)]
    lines += [name + b": " + value for name, value in response_headers(body, request_id)]
    lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class LimitedHTTPChannel(http.HTTPChannel):
    """One client connection: a deadline for each request's headers, refusals before bodies."""

    factory: LimitedHTTPFactory
    header_timeout: float  # set by LimitedHTTPFactory.buildProtocol
    _head_deadline: Any = None
    _waiting_for_head = True
    _refused = False
    head: RequestHead | None = None

    # --- the header deadline -------------------------------------------------------
    def connectionMade(self) -> None:
        super().connectionMade()
        self.factory.channels.add(self)
        self._start_head_clock()

    def dataReceived(self, data: bytes) -> None:
        if self._refused:
            return  # an answer was given; the rest of the request is dropped unread
        if self._waiting_for_head and self._head_deadline is None:
            self._start_head_clock()  # the first byte of the next request
        super().dataReceived(data)

    def _start_head_clock(self) -> None:
        self._head_deadline = self.callLater(self.header_timeout, self._head_too_slow)

    def _stop_head_clock(self) -> None:
        if self._head_deadline is not None and self._head_deadline.active():
            self._head_deadline.cancel()
        self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.transport is None:
            return
        self._refused = True
        self.transport.write(HEADER_TIMEOUT_RESPONSE)
        self.close_soon()

    def requestDone(self, request: http.Request) -> None:
        self._waiting_for_head = True  # before the next request's bytes are replayed
        self.head = None
        super().requestDone(request)

    def connectionLost(self, reason: Any) -> None:
        self._stop_head_clock()
        self.factory.channels.discard(self)
        super().connectionLost(reason)

    # --- refusals before the body ----------------------------------------------------
    def allHeadersReceived(self) -> None:
        self._stop_head_clock()
        self._waiting_for_head = False
        request = self.requests[-1]
        path, query = split_target(self._path)
        peer = self.transport.getPeer() if self.transport is not None else None
        self.head = RequestHead(
            method=self._command.decode("latin-1"),
            path=path,
            query=query,
            headers=[
                (name.lower(), value)
                for name, values in request.requestHeaders.getAllRawHeaders()
                for value in values
            ],
            client_ip=str(peer.host) if peer is not None and hasattr(peer, "host") else None,
        )
        refusal = refusal_before_body(self.head.path, self.head.headers, self.length)
        if refusal is not None:
            self.refuse(request, refusal)
            return
        super().allHeadersReceived()

    def lineReceived(self, line: bytes) -> None:
        if not self._refused:
            super().lineReceived(line)

    def rawDataReceived(self, data: bytes) -> None:
        if not self._refused:
            super().rawDataReceived(data)

    def allContentReceived(self) -> None:
        if not self._refused:
            super().allContentReceived()

    def refuse(self, request: http.Request, exc: GatewayError) -> None:
        """Answer `exc` now, whatever of the body has not arrived, and close."""
        if self._refused:
            return
        self._refused = True
        head = self.head
        request_id = None
        if head is not None and is_gateway_path(head.path):
            request_id = log_refusal(
                exc,
                method=head.method,
                path=head.path,
                query=head.query,
                headers=head.headers,
                client_ip=head.client_ip,
            )
        if request.content is not None:
            request.content.close()  # the part already spooled goes now
            request.content = None
        self.transport.write(raw_response(exc, request_id))
        self.close_soon()

    def close_soon(self) -> None:
        """Close after the answer is written; abort if the client will not take it."""
        self.persistent = False
        self.loseConnection()
        if self._abortingCall is None:
            self._abortingCall = self.callLater(ABORT_AFTER_SECONDS, self.forceAbortClient)

    # --- the drain -------------------------------------------------------------------
    def serves_http(self) -> bool:
        """False once Daphne has handed the connection over to a websocket protocol."""
        return self.transport is not None and getattr(self.transport, "protocol", self) is self

    def stop_keep_alive(self) -> None:
        """No further request on this connection; close it now if no request is under way."""
        self.persistent = False
        if self._waiting_for_head:
            self.close_soon()


class LimitedWebRequest(WebRequest):
    """Daphne's request, counting its body and refusing it at the cap."""

    channel: LimitedHTTPChannel
    _body_bytes = 0

    def handleContentChunk(self, data: bytes) -> None:
        channel = self.channel
        if channel is None or channel._refused:
            return
        self._body_bytes += len(data)
        if self._body_bytes > settings.SWITCHBOARD_MAX_BODY_BYTES:
            channel.refuse(self, body_over_cap())
            return
        super().handleContentChunk(data)


class LimitedHTTPFactory(HTTPFactory):
    """Daphne's HTTP factory, building `LimitedHTTPChannel`s and knowing the open ones."""

    protocol = LimitedHTTPChannel  # type: ignore[assignment]

    def __init__(self, server: Server, *, header_timeout: float, idle_timeout: float) -> None:
        super().__init__(server)
        self.timeOut = idle_timeout  # Twisted's idle timeout, between requests and bytes
        self.header_timeout = header_timeout
        self.channels: WatchedSet[LimitedHTTPChannel] = WatchedSet()

    def buildProtocol(self, addr: Any) -> LimitedHTTPChannel:
        channel = http.HTTPFactory.buildProtocol(self, addr)
        channel.requestFactory = LimitedWebRequest
        channel.header_timeout = self.header_timeout
        return channel


class DrainingServer(Server):
    """Daphne's server with our HTTP factory and a drain on SIGTERM/SIGINT."""

    def __init__(
        self,
        application: Any,
        *,
        in_flight: InFlightRequests,
        drain_seconds: float,
        header_timeout: float,
        idle_timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(application, signal_handlers=False, **kwargs)
        self.in_flight = in_flight
        self.drain_seconds = drain_seconds
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.ports: list[Any] = []
        self.draining = False
        self._hurry: asyncio.Future[None] | None = None  # set by a second signal
        self._drain_task: asyncio.Task[None] | None = None

    def run(self) -> None:
        """Daphne's `Server.run`, with `LimitedHTTPFactory` and our signal handlers."""
        self.connections = {}
        self.http_factory = LimitedHTTPFactory(
            self, header_timeout=self.header_timeout, idle_timeout=self.idle_timeout
        )
        self.ws_factory = WebSocketFactory(self, server=self.server_name)
        self.ws_factory.setProtocolOptions(
            autoPingTimeout=self.ping_timeout,
            allowNullOrigin=True,
            openHandshakeTimeout=self.websocket_handshake_timeout,
            maxMessagePayloadSize=self.websocket_max_message_size,
            maxFramePayloadSize=self.websocket_max_frame_size,
        )
        # Twisted's own log is noise at this level (Daphne does the same).
        globalLogBeginner.beginLoggingTo(
            [lambda _: None], redirectStandardIO=False, discardBuffer=True
        )
        reactor.callLater(1, self.application_checker)
        reactor.callLater(2, self.timeout_checker)
        for description in self.endpoints:
            listening = serverFromString(reactor, str(description)).listen(self.http_factory)
            listening.addCallback(self.listen_success)
            listening.addErrback(self.listen_error)
            self.listeners.append(listening)
        asyncio.set_event_loop(reactor._asyncioEventloop)
        reactor.addSystemEventTrigger("before", "shutdown", self.kill_all_applications)
        reactor.callWhenRunning(self._install_signal_handlers)
        if not self.abort_start:
            if self.ready_callable:
                self.ready_callable()
            reactor.run(installSignalHandlers=False)

    def listen_success(self, port: Any) -> None:
        super().listen_success(port)
        self.ports.append(port)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_event_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.begin_drain, signal.Signals(signum).name)

    # --- the drain -------------------------------------------------------------------
    def begin_drain(self, signal_name: str) -> None:
        if self.draining:
            logger.warning("%s again: ending the requests in flight now", signal_name)
            if self._hurry is not None and not self._hurry.done():
                self._hurry.set_result(None)
            return
        self.draining = True
        self._hurry = asyncio.get_event_loop().create_future()
        logger.info(
            "%s: no new connections; %d request(s) in flight get up to %.1f s to finish",
            signal_name,
            len(self.in_flight),
            self.drain_seconds,
        )
        for port in self.ports:
            port.stopListening()
        for channel in self.http_factory.channels:
            channel.stop_keep_alive()
        self._drain_task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        try:
            assert self._hurry is not None
            emptied = asyncio.ensure_future(self.in_flight.wait_until_empty(self.drain_seconds))
            await asyncio.wait([emptied, self._hurry], return_when=asyncio.FIRST_COMPLETED)
            emptied.cancel()
            ended = self.in_flight.end_all(DRAIN_TIMEOUT_REASON)
            if ended:
                logger.warning(
                    "ended %d request(s) still running after the drain window "
                    "(logged as cancelled, status %d)",
                    ended,
                    CLIENT_CLOSED_REQUEST,
                )
                await self.in_flight.wait_until_empty(END_GRACE_SECONDS)
            await self._close_connections()
            log_writer.shutdown()
        except Exception:
            logger.exception("the drain failed; stopping anyway")
        finally:
            reactor.stop()

    async def _close_connections(self) -> None:
        """Let every client connection send what it was given, then close it."""
        channels = self.http_factory.channels
        for channel in channels:
            if not channel.serves_http():
                channels.discard(channel)  # a websocket now: Daphne closes those at exit
                continue
            channel.persistent = False
            channel.loseConnection()
        await channels.wait_until_empty(CLOSE_GRACE_SECONDS)
