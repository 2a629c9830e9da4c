"""A Django ASGI handler without middleware, for the /v1/* request path.

Django's session, auth, CSRF and message middleware are synchronous: in an
async request each one is run through `sync_to_async`, a hop to one shared
thread, which would serialise the whole gateway. The gateway endpoints need
none of them (clients authenticate with API keys, not sessions), so they are
served by this handler: same URLconf and views, an empty middleware chain.

It also stops buffering a request body past SWITCHBOARD_MAX_BODY_BYTES and
notes its size in the scope, so the view answers 413 without storing it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response

from routing.http import BODY_TOO_LARGE_SCOPE_KEY


class GatewayASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        get_response = self._get_response_async if is_async else self._get_response
        self._middleware_chain = convert_exception_to_response(get_response)

    async def handle(self, scope, receive, send):  # type: ignore[override]
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

        await super().handle(scope, capped_receive, send)
