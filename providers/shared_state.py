"""State shared by every worker through Redis (when REDIS_URL is set).

Two kinds of news travel on one pub/sub channel:
- an account cooldown (provider, label, until): every worker then skips that
  account, not only the one that got the 429/529/401/403; cooldowns are also
  kept as keys with a TTL, so a worker that starts later learns them;
- a config change (version): every worker reloads its routing snapshot at
  once instead of at its next poll.

Nothing here runs on the request path: publishing puts a message on a queue
that a daemon thread sends, and a second daemon thread listens. If Redis is
down, workers fall back to what they know locally (their own cooldowns, the
config poll) and the threads retry with back-off.

Rotation itself stays per worker: each runs the smooth weighted round-robin,
so the traffic split across workers still follows the weights without a
Redis round trip per request.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import orjson
import redis

from providers.accounts import AccountPool, Cooldown

logger = logging.getLogger(__name__)

#: Channel and key names, under SWITCHBOARD_REDIS_PREFIX so that several
#: gateways (or test runs) can share one Redis without hearing each other.
CHANNEL = "{prefix}:events"
COOLDOWN_KEY_PREFIX = "{prefix}:cooldown:"
#: Seconds between reconnection attempts when Redis is unreachable.
RETRY_SECONDS = 2.0


class SharedState:
    def __init__(
        self, url: str, accounts: AccountPool, on_config_change, prefix: str = "switchboard"
    ) -> None:
        self._url = url
        self._channel = CHANNEL.format(prefix=prefix)
        self._cooldown_prefix = COOLDOWN_KEY_PREFIX.format(prefix=prefix)
        self._accounts = accounts
        self._on_config_change = on_config_change
        self._outbox: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.received = 0

    # --- called from anywhere (never blocks) ----------------------------------
    def publish_cooldown(self, cooldown: Cooldown) -> None:
        self._outbox.put(
            {
                "kind": "cooldown",
                "provider": cooldown.provider,
                "label": cooldown.label,
                "until": cooldown.until,
            }
        )

    def publish_config_change(self, version: int) -> None:
        self._outbox.put({"kind": "config", "version": version})

    # --- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        for target, name in ((self._listen, "redis-listener"), (self._send, "redis-publisher")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._outbox.put({"kind": "stop"})
        for thread in self._threads:
            thread.join(5)

    # --- the threads ----------------------------------------------------------------
    def _client(self) -> redis.Redis:
        return redis.Redis.from_url(self._url, socket_timeout=5, socket_connect_timeout=5)

    def _send(self) -> None:
        client = self._client()
        while not self._stop.is_set():
            message = self._outbox.get()
            if message.get("kind") == "stop":
                return
            while not self._stop.is_set():
                try:
                    if message["kind"] == "cooldown":
                        ttl = max(1, int(message["until"] - time.time()) + 1)
                        key = f"{self._cooldown_prefix}{message['provider']}:{message['label']}"
                        client.set(key, str(message["until"]), ex=ttl)
                    client.publish(self._channel, orjson.dumps(message))
                    break
                except redis.RedisError:
                    logger.warning("Redis unreachable; will resend shared state news")
                    self._stop.wait(RETRY_SECONDS)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                client = self._client()
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self._channel)
                self._load_cooldowns(client)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._handle(orjson.loads(message["data"]))
            except redis.RedisError:
                logger.warning("Redis unreachable; listening again in %.0fs", RETRY_SECONDS)
                self._stop.wait(RETRY_SECONDS)
            except Exception:
                logger.exception("shared state listener failed; restarting")
                self._stop.wait(RETRY_SECONDS)

    def _load_cooldowns(self, client: redis.Redis) -> None:
        for key in client.scan_iter(match=f"{self._cooldown_prefix}*", count=500):
            value = client.get(key)
            name = key.decode()[len(self._cooldown_prefix) :]
            provider, _, label = name.partition(":")
            if value is not None and label:
                self._accounts.mark(Cooldown(provider, label, float(value)))  # type: ignore[arg-type]

    def _handle(self, message: dict[str, Any]) -> None:
        self.received += 1
        if message.get("kind") == "cooldown":
            self._accounts.mark(
                Cooldown(message["provider"], message["label"], float(message["until"]))
            )
        elif message.get("kind") == "config":
            self._on_config_change(int(message.get("version", 0)))
