"""The upstream HTTP client behind one small interface.

`Transport.send()` opens a request and returns as soon as the status line and
headers arrive; the body is then read with `aiter_raw()` (streams, relayed as
they come) or `aread()`. httpx is the implementation today: one pooled
AsyncClient per event loop (a worker has one loop; tests may run several).
A faster client can replace it by implementing the same two classes.

`map_transport_errors()` is the one boundary where httpx exceptions become the
gateway's own (`providers.errors`).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Protocol

import httpx
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


@contextlib.contextmanager
def map_transport_errors(provider: str) -> Iterator[None]:
    """Turn httpx's exceptions into the gateway's, naming the provider."""
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
        raise UpstreamConnectError(
            f"could not connect to provider {provider!r}: {_reason(exc)}"
        ) from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise UpstreamProtocolError(
            f"connection to provider {provider!r} broke: {_reason(exc)}"
        ) from None
    except httpx.HTTPError as exc:
        raise UpstreamError(f"request to provider {provider!r} failed: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    """A short cause without URLs (they may carry credentials in a query string)."""
    text = str(exc) or type(exc).__name__
    return text.split(" for url ")[0][:200]


class HttpxResponse:
    def __init__(self, response: httpx.Response, provider: str) -> None:
        self._response = response
        self._provider = provider
        self.status = response.status_code
        self.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        with map_transport_errors(self._provider):
            async for chunk in self._response.aiter_raw():
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

    def _client(self) -> httpx.AsyncClient:
        import asyncio

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
        return HttpxResponse(response, request.provider)


_transport: Transport = HttpxTransport()


def get_transport() -> Transport:
    return _transport
