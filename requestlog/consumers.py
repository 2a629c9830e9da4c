"""The dashboard's live request feed: `/ws/requests/`.

Staff only (the same rule as the dashboard pages): anyone else is refused
before the handshake completes. A joined socket receives, for each batch the
log writer stores, `{"rows": [...]}` where each row has the fields the page
filters on and its table row as `html` (see `requestlog.live`). The browser
sends nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from requestlog import live

#: Close code for a refused connection (4000-4999 are the application's own).
FORBIDDEN = 4403


def is_staff(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


class RequestFeedConsumer(AsyncJsonWebsocketConsumer):
    joined = False

    async def connect(self) -> None:
        if not is_staff(self.scope.get("user")):
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
