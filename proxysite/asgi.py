"""ASGI entry point: `daphne proxysite.asgi:application`.

HTTP to the gateway endpoints (/v1/*, the Claude Code preflight, health
checks) goes to a Django handler without middleware; everything else (admin,
dashboard, API) to Django's standard handler. Websockets go through Channels.

Every HTTP request passes through `http_requests` (proxysite/drain.py), which
knows the requests in flight: `manage.py serve` drains them on SIGTERM, and a
request any server cancels still gets an answer (`event: error` or a 503).
An ASGI lifespan is answered for servers that send one (uvicorn): at shutdown
it waits for the requests still ending, then flushes the log writer. Daphne
sends none, so the writer also flushes from atexit (and `serve` flushes it
after the drain).
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proxysite.settings")

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

django_app = get_asgi_application()  # sets Django up before the imports below

from channels.auth import AuthMiddlewareStack  # noqa: E402
from django.conf import settings  # noqa: E402

from gateway.host_check import host_allowed, host_from_scope  # noqa: E402
from gateway.keys import idle_credentials_warning, idle_stored_credentials  # noqa: E402
from providers.accounts import accounts  # noqa: E402
from proxysite.drain import InFlightRequests  # noqa: E402
from proxysite.gateway_handler import GatewayASGIHandler  # noqa: E402
from proxysite.memory import fix_mmap_threshold  # noqa: E402
from proxysite.twisted_forms import stop_parsing_form_bodies  # noqa: E402
from proxysite.websockets import SameOriginValidator, websocket_urlpatterns  # noqa: E402
from requestlog.writer import log_writer  # noqa: E402
from routing import snapshot  # noqa: E402
from routing.agent_sync import AgentWatcher  # noqa: E402

logger = logging.getLogger(__name__)

GATEWAY_PATHS = ("/healthz", "/readyz", "/metrics")
PREFLIGHT_PATHS = ("/", "/api/hello")
#: At lifespan shutdown, how long requests the server just cancelled may take to end
#: (close their upstream, hand over their log row) before the writer flushes.
LIFESPAN_SHUTDOWN_WAIT_SECONDS = 5.0


def is_gateway_request(scope: dict) -> bool:
    path = scope["path"]
    return path.startswith("/v1/") or path in GATEWAY_PATHS


def is_preflight(scope: dict) -> bool:
    """Claude Code's reachability check: `HEAD /` or `HEAD /api/hello`."""
    return scope["method"] == "HEAD" and scope["path"] in PREFLIGHT_PATHS


async def answer_preflight(send) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
    )
    await send({"type": "http.response.body", "body": b""})


gateway_app = GatewayASGIHandler()


async def http_app(scope, receive, send):
    # A preflight for a Host we do not serve falls through to the handlers, which refuse it.
    if is_preflight(scope) and host_allowed(host_from_scope(scope)):
        await answer_preflight(send)
    elif is_gateway_request(scope):
        await gateway_app(scope, receive, send)
    else:
        await django_app(scope, receive, send)


http_requests = InFlightRequests(http_app)


async def lifespan_app(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            # uvicorn cancels the requests left after --timeout-graceful-shutdown
            # and asks at once: their rows are handed over only once they end.
            if not await http_requests.wait_until_empty(LIFESPAN_SHUTDOWN_WAIT_SECONDS):
                logger.warning("%d request(s) still running at shutdown", len(http_requests))
            log_writer.shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


def warm_up() -> None:
    """Sync agent files, load the routing config, start the background threads."""
    try:
        if settings.SWITCHBOARD_AGENT_SCAN_SECONDS > 0:
            AgentWatcher().poll()
        config = snapshot.load()
        idle = idle_stored_credentials(config.providers.values())
        if idle:
            logger.warning("%s", idle_credentials_warning(idle))
    except Exception:
        logger.exception("routing config not loaded at start (did you run migrate?)")
    snapshot.start_poller()
    log_writer.start()
    if settings.REDIS_URL:
        from providers.shared_state import SharedState  # imports redis: only when used

        accounts.shared = SharedState(
            settings.REDIS_URL,
            accounts,
            snapshot.reload_if_newer,
            prefix=settings.SWITCHBOARD_REDIS_PREFIX,
        )
        accounts.shared.start()


fix_mmap_threshold()
stop_parsing_form_bodies()
warm_up()

application = ProtocolTypeRouter(
    {
        "http": http_requests,
        "websocket": SameOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
            settings.SWITCHBOARD_ALLOWED_ORIGINS,
        ),
        "lifespan": lifespan_app,
    }
)
