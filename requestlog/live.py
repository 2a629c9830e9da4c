"""The live feed: log rows just written, pushed to the dashboard's websockets.

The log writer calls `publish_rows(rows)` from its background thread after
each batch. Each row is reduced to the fields the browser filters on plus its
table row rendered once as HTML, and sent to the channel-layer group
`GROUP`, which every `/ws/requests/` consumer joins (in this process with
the in-memory layer, in every worker with Redis).

Cheap and never raising, because it runs on the writer's thread:
- at most MAX_ROWS_PER_BATCH rows of a batch are sent (the newest): under
  load a person watching cannot read more, and the list page has the rest;
- with the in-memory layer and no dashboard open in this process there is no
  one to tell, so nothing is rendered;
- the send is scheduled on the event loop that serves the websockets (an
  asyncio queue must be touched from its own loop's thread) and not waited for.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

GROUP = "requests.live"
MESSAGE_TYPE = "requests.new"  # handled by RequestFeedConsumer.requests_new
MAX_ROWS_PER_BATCH = 50

#: Fields sent with each row so the browser can apply the page's filters.
FILTER_FIELDS = (
    "request_id",
    "provider",
    "requested_model",
    "target_model",
    "subagent",
    "route",
    "status",
    "outcome",
    "stream",
    "conversation_key",
)

_state_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_listeners = 0


def listener_joined(loop: asyncio.AbstractEventLoop) -> None:
    """Called by a consumer as it joins: remember the loop that serves websockets."""
    global _loop, _listeners
    with _state_lock:
        _loop = loop
        _listeners += 1


def listener_left() -> None:
    global _listeners
    with _state_lock:
        _listeners = max(0, _listeners - 1)


def feed_message(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The group message for some log rows (plain types only, for any channel layer)."""
    from requestlog.dashboard.display import row_view

    views = [row_view(row) for row in rows]
    items = []
    for row, view in zip(rows, views, strict=True):
        item = {name: row.get(name) for name in FILTER_FIELDS}
        item["started_at"] = view["iso"]
        item["is_error"] = view["is_error"]
        item["html"] = render_to_string("dashboard/_request_rows.html", {"rows": [view]})
        items.append(item)
    return {"type": MESSAGE_TYPE, "rows": items}


#: What concurrent.futures says once the interpreter has begun to exit.
EXITING_MESSAGE = "after interpreter shutdown"


def publish_rows(rows: list[dict[str, Any]]) -> None:
    """Push rows just written to every open dashboard. Never raises."""
    try:
        _publish(rows)
    except RuntimeError as exc:
        if EXITING_MESSAGE not in str(exc):
            logger.exception("could not publish %d log rows to the live feed", len(rows))
            return
        # The process is exiting (asgiref's executor is shut down): nobody is listening.
        logger.info(
            "%d log rows written as the process exited: not sent to the live feed", len(rows)
        )
    except Exception:
        logger.exception("could not publish %d log rows to the live feed", len(rows))


def _publish(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    with _state_lock:
        loop, listeners = _loop, _listeners
    loop_usable = loop is not None and loop.is_running() and not loop.is_closed()
    if isinstance(layer, InMemoryChannelLayer) and (listeners == 0 or not loop_usable):
        return  # the in-memory layer only reaches this process's consumers: none
    newest = sorted(rows, key=lambda row: str(row.get("started_at")))[-MAX_ROWS_PER_BATCH:]
    message = feed_message(newest)
    if loop_usable and loop is not None:
        future = asyncio.run_coroutine_threadsafe(layer.group_send(GROUP, message), loop)
        future.add_done_callback(_log_failure)
    else:
        # Redis, and no websocket in this process: the other workers' consumers listen.
        async_to_sync(layer.group_send)(GROUP, message)


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("live feed send failed: %r", future.exception())
