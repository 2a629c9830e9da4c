"""The off-path log writer: one daemon thread that bulk-inserts log rows in batches.

The request path calls `enqueue(row)`: a non-blocking put on a SimpleQueue.
The thread writes a batch (one prepared INSERT, `fast_insert`) every
SWITCHBOARD_LOG_FLUSH_MS, or as soon as SWITCHBOARD_LOG_BATCH_SIZE rows wait.
A thread rather than an asyncio task because Daphne has no ASGI lifespan and
tests run views on several loops; a thread is independent of whichever loop
served the request. (Sleeping between flushes instead of waiting on the
queue was tried and halved throughput in bench/: see the commit log.)

Nothing is lost: a failed batch is retried with back-off, then written to
`DATA_DIR/unwritten-log-rows.jsonl` for `manage.py replaylogs`. `shutdown()`
(registered with atexit, so it runs when Daphne stops on SIGTERM/SIGINT)
writes what is queued before the process exits.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from typing import Any

import orjson
from django.conf import settings
from django.db import close_old_connections, connections

from requestlog import metrics

logger = logging.getLogger(__name__)

#: Tries for one batch before its rows go to the spill file.
WRITE_ATTEMPTS = 4
#: Seconds before the first retry of a failed batch; doubled each time.
RETRY_DELAY = 0.2
#: Where rows go when the database refuses them (DATA_DIR/...), for `manage.py replaylogs`.
SPILL_FILE_NAME = "unwritten-log-rows.jsonl"
#: Seconds shutdown() waits for the queue to drain.
SHUTDOWN_TIMEOUT = 15.0


class _Flush:
    """A marker put in the queue; its event is set once everything before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


class _Stop(_Flush):
    pass


class LogWriter:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.written = 0
        self.spilled = 0
        self._inserter = None

    # --- called from the request path --------------------------------------
    def enqueue(self, row: dict[str, Any]) -> None:
        self._ensure_started()
        self._queue.put(row)

    # --- lifecycle -----------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:  # (after a fork, the parent's thread reports not alive)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
                self._thread.start()

    def start(self) -> None:
        self._ensure_started()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every row enqueued before this call is written. True if it was."""
        marker = _Flush()
        self._ensure_started()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT) -> None:
        if not self.is_alive():
            return
        marker = _Stop()
        self._queue.put(marker)
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        if not marker.done.is_set() or (thread is not None and thread.is_alive()):
            logger.error("log writer did not drain within %.0fs at shutdown", timeout)

    # --- the thread ----------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        finally:
            connections.close_all()  # this thread's own connections

    def _loop(self) -> None:
        flush_s = settings.SWITCHBOARD_LOG_FLUSH_MS / 1000
        batch_size = settings.SWITCHBOARD_LOG_BATCH_SIZE
        while True:
            first = self._queue.get()
            batch: list[dict[str, Any]] = []
            markers: list[_Flush] = []
            if isinstance(first, _Flush):
                markers.append(first)
            else:
                batch.append(first)
                deadline = time.monotonic() + flush_s
                while len(batch) < batch_size:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                    if isinstance(item, _Flush):
                        markers.append(item)
                        break
                    batch.append(item)
            if batch:
                self._write(batch)
            for marker in markers:
                marker.done.set()
                if isinstance(marker, _Stop):
                    self._write_rest()
                    return

    def _write_rest(self) -> None:
        rest: list[dict[str, Any]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Flush):
                item.done.set()
            else:
                rest.append(item)
        if rest:
            self._write(rest)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        from requestlog.fast_insert import RowInserter
        from requestlog.models import RequestLog

        if self._inserter is None:
            self._inserter = RowInserter(RequestLog)
        price_rows(batch)
        delay = RETRY_DELAY
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                close_old_connections()
                self._inserter.insert(batch)
                self.written += len(batch)
                self._after_write(batch)
                return
            except Exception:
                logger.exception(
                    "writing %d log rows failed (attempt %d/%d)",
                    len(batch),
                    attempt,
                    WRITE_ATTEMPTS,
                )
                time.sleep(delay)
                delay *= 2
        self._spill(batch)

    def _after_write(self, batch: list[dict[str, Any]]) -> None:
        """Side effects of written rows; a failure here never loses the rows."""
        try:
            note_agent_matches(batch)
        except Exception:
            logger.exception("could not update agents' last match")
        try:
            metrics.observe(batch)
        except Exception:
            logger.exception("could not count log rows in the metrics")
        try:
            self._publish(batch)
        except Exception:
            logger.exception("could not publish log rows to the live feed")

    def _publish(self, batch: list[dict[str, Any]]) -> None:
        """Push the rows to open dashboards (requestlog.live; never raises)."""
        from requestlog.live import publish_rows

        publish_rows(batch)

    def _spill(self, batch: list[dict[str, Any]]) -> None:
        path = settings.DATA_DIR / SPILL_FILE_NAME
        try:
            with open(path, "ab") as handle:
                for row in batch:
                    handle.write(orjson.dumps(row, default=str) + b"\n")
            self.spilled += len(batch)
            logger.error("%d log rows kept in %s for `manage.py replaylogs`", len(batch), path)
        except OSError:
            logger.exception("could not keep %d log rows anywhere", len(batch))


def price_rows(batch: list[dict[str, Any]]) -> None:
    """Store each row's cost at write time, from the price table (requestlog.pricing)."""
    from requestlog.pricing import cost_for

    for row in batch:
        if "cost_usd" not in row:
            try:
                row["cost_usd"] = cost_for(row)
            except Exception:
                logger.exception("could not price a log row; it is kept without a cost")
                row["cost_usd"] = None


def note_agent_matches(batch: list[dict[str, Any]]) -> None:
    """Stamp `last_matched_at` on the agent definitions these rows matched.

    A queryset update, so no signal fires and the routing config is not reloaded.
    """
    from routing.models import AgentDefinition

    latest: dict[str, Any] = {}
    for row in batch:
        name = row.get("subagent")
        if name and not name.startswith("("):
            latest[name] = max(latest.get(name, row["started_at"]), row["started_at"])
    for name, when in latest.items():
        AgentDefinition.objects.filter(name=name).update(last_matched_at=when)


log_writer = LogWriter()
atexit.register(log_writer.shutdown)
