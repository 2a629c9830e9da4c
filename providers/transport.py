"""The upstream HTTP client behind one small interface.

`Transport.send()` opens a request and returns as soon as the status line and
headers arrive; the body is then read with `aiter_raw()` (streams, relayed as
they come) or `aread()`. Both give the body with its content-encoding
undone: the gateway asks for `identity`, but an upstream (or a proxy in front
of it) that compresses anyway is decoded (gzip, deflate), since the relay
does not pass `content-encoding` on and the log parses what it relays. Any
other encoding is refused in `send()`, before a byte is relayed. Two
implementations, each with one pooled client per event loop (a worker has
one loop; tests may run several):

- `AiohttpTransport`, the default: bench/ measured httpx's connection pool at
  about 5.5 ms of CPU per request at concurrency 32 (it rescans every pooled
  connection with two system calls each for every request) against 1.7 ms
  for aiohttp; see the README's Performance section.
- `HttpxTransport` (SWITCHBOARD_HTTP_CLIENT=httpx), kept for comparison.

`map_*_errors()` are the boundaries where each client's exceptions become the
gateway's own (`providers.errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import weakref
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from django.conf import settings

from providers.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamProtocolError,
    UpstreamTimeout,
)

#: Seconds allowed to send the request body upstream.
WRITE_TIMEOUT = 60.0
#: Content-Encodings both clients undo; any other one is refused (we ask for identity).
DECODED_ENCODINGS = frozenset({"", "identity", "gzip", "deflate"})
#: How far down an exception's causes to look for the OSError behind it.
MAX_CAUSE_DEPTH = 8


@dataclass(frozen=True)
class UpstreamRequest:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    connect_timeout: float
    read_timeout: float
    #: Provider name, for error messages (never the URL: it may carry a key).
    provider: str


class UpstreamResponse(Protocol):
    status: int
    headers: list[tuple[str, str]]

    def aiter_raw(self) -> AsyncIterator[bytes]: ...

    async def aread(self) -> bytes: ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    async def send(self, request: UpstreamRequest) -> UpstreamResponse: ...

    async def aclose(self) -> None:
        """Close this event loop's pooled client (tests; a worker keeps its pool)."""
        ...


@contextlib.contextmanager
def map_transport_errors(provider: str) -> Iterator[None]:
    """Turn httpx's exceptions into the gateway's, naming the provider."""
    import httpx  # only with SWITCHBOARD_HTTP_CLIENT=httpx: saves its memory otherwise

    try:
        yield
    except httpx.PoolTimeout:
        raise UpstreamOverloaded(
            f"no free connection to provider {provider!r}: too many requests in flight"
        ) from None
    except httpx.ConnectTimeout:
        raise UpstreamTimeout(f"timed out connecting to provider {provider!r}") from None
    except httpx.TimeoutException:
        raise UpstreamTimeout(f"provider {provider!r} did not answer in time") from None
    except httpx.ConnectError as exc:
        raise UpstreamConnectError(_connect_failure(provider, exc, _reason(exc))) from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise UpstreamProtocolError(
            f"connection to provider {provider!r} broke: {_reason(exc)}"
        ) from None
    except httpx.HTTPError as exc:
        raise UpstreamError(f"request to provider {provider!r} failed: {_reason(exc)}") from None


def content_encoding(headers: list[tuple[str, str]], provider: str) -> str:
    """The body's content-encoding ("" for none); raises for one the gateway cannot undo."""
    for name, value in headers:
        if name.lower() == "content-encoding":
            encoding = value.strip().lower()
            if encoding not in DECODED_ENCODINGS:
                raise UpstreamProtocolError(
                    f"provider {provider!r} answered with content-encoding {value.strip()!r}, "
                    "which the gateway cannot decode (it asks for identity; gzip and deflate "
                    "are decoded)"
                )
            return "" if encoding == "identity" else encoding
    return ""


class Inflater:
    """Undoes a gzip or deflate (zlib) content-encoding, chunk by chunk."""

    def __init__(self) -> None:
        # 32 + MAX_WBITS: zlib reads a gzip or a zlib header, whichever the body starts with.
        self._inflate = zlib.decompressobj(32 + zlib.MAX_WBITS)

    def decode(self, chunk: bytes) -> bytes:
        return self._inflate.decompress(chunk)

    def flush(self) -> bytes:
        return self._inflate.flush()


def _connect_failure(provider: str, error: BaseException | None, reason: str) -> str:
    """The message for a failed connection; a host name that did not resolve is said so."""
    for _ in range(MAX_CAUSE_DEPTH):  # httpx wraps httpcore, which wraps the OSError
        if error is None or isinstance(error, socket.gaierror):
            break
        error = error.__cause__ or error.__context__
    if isinstance(error, socket.gaierror):
        return (
            f"could not connect to provider {provider!r}: its host name did not resolve ({reason})"
        )
    return f"could not connect to provider {provider!r}: {reason}"


#: Where httpx (" for url ...") and aiohttp (", url=...") start quoting the URL.
_URL_IN_MESSAGE = re.compile(r" for url |, url=")


def _reason(exc: Exception) -> str:
    """A short cause without URLs (they may carry credentials in a query string)."""
    text = str(exc) or type(exc).__name__
    return _URL_IN_MESSAGE.split(text, maxsplit=1)[0][:200]


class HttpxResponse:
    def __init__(self, response: Any, provider: str) -> None:
        self._response = response
        self._provider = provider
        self.status = response.status_code
        self.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        with map_transport_errors(self._provider):
            async for chunk in self._response.aiter_bytes():  # content-encoding undone
                yield chunk

    async def aread(self) -> bytes:
        with map_transport_errors(self._provider):
            return await self._response.aread()

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxTransport:
    """One pooled httpx.AsyncClient per event loop."""

    def __init__(self) -> None:
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _client(self) -> Any:
        import httpx

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(
                limits=httpx.Limits(
                    max_connections=settings.SWITCHBOARD_MAX_CONNECTIONS,
                    max_keepalive_connections=settings.SWITCHBOARD_MAX_CONNECTIONS,
                    keepalive_expiry=30.0,
                ),
                # Environment proxies would route loopback providers astray.
                trust_env=False,
                follow_redirects=False,
            )
            self._clients[loop] = client
        return client

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        import httpx

        client = self._client()
        timeout = httpx.Timeout(
            connect=request.connect_timeout,
            read=request.read_timeout,
            write=WRITE_TIMEOUT,
            pool=settings.SWITCHBOARD_POOL_TIMEOUT,
        )
        built = client.build_request(
            request.method,
            request.url,
            headers=request.headers,
            content=request.body,
            timeout=timeout,
        )
        with map_transport_errors(request.provider):
            response = await client.send(built, stream=True)
        wrapped = HttpxResponse(response, request.provider)
        try:
            content_encoding(wrapped.headers, request.provider)  # httpx undoes gzip, deflate
        except UpstreamProtocolError:
            await response.aclose()
            raise
        return wrapped

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


@contextlib.contextmanager
def map_aiohttp_errors(provider: str) -> Iterator[None]:
    """Turn aiohttp's exceptions into the gateway's, naming the provider."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError:
        raise UpstreamTimeout(f"timed out connecting to provider {provider!r}") from None
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise UpstreamTimeout(f"provider {provider!r} did not answer in time") from None
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamConnectError(
            _connect_failure(provider, exc.os_error, str(exc.os_error.strerror or exc))
        ) from None
    except (
        aiohttp.ServerDisconnectedError,
        aiohttp.ClientPayloadError,
        aiohttp.ClientOSError,
    ) as exc:
        raise UpstreamProtocolError(
            f"connection to provider {provider!r} broke: {_reason(exc)}"
        ) from None
    except aiohttp.ClientResponseError as exc:
        # Raised while reading the status line and headers (no raise_for_status here).
        raise UpstreamProtocolError(
            f"provider {provider!r} did not answer in HTTP: {exc.message[:200]}"
        ) from None
    except aiohttp.ClientError as exc:
        raise UpstreamError(f"request to provider {provider!r} failed: {_reason(exc)}") from None
    except zlib.error as exc:
        raise UpstreamProtocolError(
            f"provider {provider!r} sent a compressed body that could not be decoded: {exc}"
        ) from None


class AiohttpResponse:
    def __init__(
        self, response: aiohttp.ClientResponse, provider: str, inflater: Inflater | None = None
    ) -> None:
        self._response = response
        self._provider = provider
        self._inflater = inflater
        self.status = response.status
        self.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        inflater = self._inflater
        with map_aiohttp_errors(self._provider):
            async for chunk in self._response.content.iter_any():
                data = inflater.decode(chunk) if inflater is not None else chunk
                if data:
                    yield data
            if inflater is not None and (tail := inflater.flush()):
                yield tail

    async def aread(self) -> bytes:
        with map_aiohttp_errors(self._provider):
            body = await self._response.read()
            if self._inflater is None:
                return body
            return self._inflater.decode(body) + self._inflater.flush()

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # the connection goes back to the pool
        else:
            self._response.close()  # unread body (client left): drop the connection


class AiohttpTransport:
    """One pooled aiohttp.ClientSession per event loop."""

    def __init__(self) -> None:
        self._sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=settings.SWITCHBOARD_MAX_CONNECTIONS,
                    keepalive_timeout=KEEPALIVE_SECONDS,
                    ttl_dns_cache=DNS_CACHE_SECONDS,
                ),
                # Decoded here (Inflater), after the encoding was checked: aiohttp's own
                # decoding fails on an encoding it lacks a library for before we can look.
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,  # environment proxies would route loopback providers astray
                skip_auto_headers=("User-Agent",),
            )
            self._sessions[loop] = session
        return session

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=settings.SWITCHBOARD_POOL_TIMEOUT + request.connect_timeout,
            sock_connect=request.connect_timeout,
            sock_read=request.read_timeout,
        )
        with map_aiohttp_errors(request.provider):
            response = await self._session().request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body or None,
                timeout=timeout,
                allow_redirects=False,
            )
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
        try:
            encoding = content_encoding(headers, request.provider)
        except UpstreamProtocolError:
            response.close()
            raise
        return AiohttpResponse(response, request.provider, Inflater() if encoding else None)

    async def aclose(self) -> None:
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()


#: Seconds an idle pooled connection is kept.
KEEPALIVE_SECONDS = 30.0
#: Seconds a resolved provider address is reused.
DNS_CACHE_SECONDS = 300

TRANSPORTS: dict[str, type] = {"aiohttp": AiohttpTransport, "httpx": HttpxTransport}
_transport: Transport | None = None


def get_transport() -> Transport:
    """The process's transport, chosen by SWITCHBOARD_HTTP_CLIENT."""
    global _transport
    if _transport is None:
        _transport = TRANSPORTS[settings.SWITCHBOARD_HTTP_CLIENT]()
    return _transport
