"""A Django ASGI handler without middleware, for the /v1/* request path.

Django's session, auth, CSRF and message middleware are synchronous: in an
async request each one is run through `sync_to_async`, a hop to one shared
thread, which would serialise the whole gateway. The gateway endpoints need
none of them (clients authenticate with API keys, not sessions), so they are
served by this handler: same URLconf and views, an empty middleware chain.

It also skips Django's per-request thread hops: `request_started` and
`request_finished` (their receivers manage database connections, which the
gateway path never uses), `response.close()` run through `sync_to_async`,
and the ThreadSensitiveContext that gives each request its own thread. The
rare sync call on this path (the first config load, `/readyz`) runs in
asgiref's shared thread instead. Measured in bench/: these hops cost two
thread starts per request and about half the per-request CPU.

It resolves with its own URLconf (`gateway.urls`), so a worker
that only proxies never imports the admin, the API or the dashboard.

Before it reads a body, it refuses a /v1/* request that carries no gateway
key (when keys are configured) or declares a body over
SWITCHBOARD_MAX_BODY_BYTES (proxysite/refusals.py), with its log row; this
holds under any server. It stops buffering a body that goes over the cap
anyway and notes its size in the scope, so the view answers 413 without
storing it.

When the server cancels `handle` (a shutdown ending the request), the tasks
it started are cancelled and awaited too, so the view's own cleanup (closing
the upstream, logging the row as cancelled) runs before `handle` returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.urls import set_script_prefix

from gateway.ingress import BODY_TOO_LARGE_SCOPE_KEY
from providers.errors import GatewayError, InvalidRequest, RequestTooLarge
from proxysite.refusals import (
    declared_length,
    error_json,
    is_gateway_path,
    log_refusal,
    refusal_before_body,
    response_headers,
)

#: Routes this handler serves (the /v1/* endpoints and probes only).
GATEWAY_URLCONF = "gateway.urls"


class GatewayASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        get_response = self._get_response_async if is_async else self._get_response
        self._middleware_chain = convert_exception_to_response(get_response)

    async def __call__(self, scope, receive, send):  # type: ignore[override]
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):  # type: ignore[override]
        if await refuse_before_body(scope, send):
            return
        limit = settings.SWITCHBOARD_MAX_BODY_BYTES
        received = 0

        async def capped_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request" and message.get("body"):
                received += len(message["body"])
                if received > limit:
                    scope[BODY_TOO_LARGE_SCOPE_KEY] = received
                    message = {**message, "body": b""}
            return message

        try:
            body_file = await self.read_body(capped_receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            # Django could not make a request of it: answered in JSON all the same.
            body_file.close()
            await refuse(scope, send, unreadable_request(error_response.status_code))
            return
        request.urlconf = GATEWAY_URLCONF

        async def process_request() -> None:
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client left while we were sending

        # As Django does: a client disconnect cancels the view (streams close
        # their upstream request in `finally`).
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(capped_receive)),
            asyncio.create_task(process_request()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Also when `handle` itself is cancelled: nothing may outlive it.
            await cancel_and_wait(tasks)
            body_file.close()
        for task in tasks:
            if task.cancelled():
                continue
            exc = task.exception()
            if exc is not None and not isinstance(exc, RequestAborted):
                raise exc


async def cancel_and_wait(tasks: Iterable[asyncio.Task]) -> None:
    """Cancel the tasks still running and wait until every one has ended."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)


def unreadable_request(status: int) -> GatewayError:
    if status == RequestTooLarge.status:
        return RequestTooLarge("request body is larger than this gateway accepts")
    return InvalidRequest("the request could not be read (its headers or query string)")


async def refuse_before_body(scope, send) -> bool:
    """Answer a request refused from its headers alone (proxysite/refusals.py); True if so."""
    headers = scope["headers"]
    refusal = refusal_before_body(scope["path"], headers, declared_length(headers))
    if refusal is None:
        return False
    await refuse(scope, send, refusal)
    return True


async def refuse(scope, send, refusal: GatewayError) -> None:
    """Answer `refusal` in Anthropic's shape, with its log row on /v1/* paths."""
    headers = scope["headers"]
    request_id = None
    if is_gateway_path(scope["path"]):
        client = scope.get("client")
        request_id = log_refusal(
            refusal,
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            client_ip=str(client[0]) if client else None,
        )
    body = error_json(refusal)
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": response_headers(body, request_id),
        }
    )
    await send({"type": "http.response.body", "body": body})
