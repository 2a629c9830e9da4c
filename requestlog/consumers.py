"""The dashboard's live request feed: `/ws/requests/`.

Staff with `requestlog.view_requestlog` only (the dashboard pages' rule):
anyone else is refused before the handshake completes. A joined socket receives, for each batch the
log writer stores, `{"rows": [...]}` where each row has the fields the page
filters on and its table row as `html` (see `requestlog.live`). The browser
sends nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from requestlog import live

#: Close code for a refused connection (4000-4999 are the application's own).
FORBIDDEN = 4403


#: What watching the feed takes: it carries logged rows, as the dashboard does.
VIEW_LOG = "requestlog.view_requestlog"


def may_watch(user: Any) -> bool:
    """Staff holding VIEW_LOG (reads permissions from the database: call off the loop)."""
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    return bool(user.has_perm(VIEW_LOG))


class RequestFeedConsumer(AsyncJsonWebsocketConsumer):
    joined = False

    async def connect(self) -> None:
        if not await database_sync_to_async(may_watch)(self.scope.get("user")):
            await self.close(code=FORBIDDEN)
            return
        await self.channel_layer.group_add(live.GROUP, self.channel_name)
        self.joined = True
        live.listener_joined(asyncio.get_running_loop())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.joined:
            self.joined = False
            live.listener_left()
            await self.channel_layer.group_discard(live.GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The feed is one-way; whatever the browser sends is ignored."""

    async def requests_new(self, event: dict[str, Any]) -> None:
        await self.send_json({"rows": event["rows"]})
