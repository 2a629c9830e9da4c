"""The off-path log writer: one daemon thread that bulk-inserts log rows in batches.

The request path calls `enqueue(row)`: a non-blocking put on a SimpleQueue.
The thread writes a batch (one prepared INSERT, `fast_insert`) every
SWITCHBOARD_LOG_FLUSH_MS, or as soon as SWITCHBOARD_LOG_BATCH_SIZE rows wait.
A thread rather than an asyncio task because Daphne has no ASGI lifespan and
tests run views on several loops; a thread is independent of whichever loop
served the request. (Sleeping between flushes instead of waiting on the
queue was tried and halved throughput in bench/: see the commit log.)

Nothing is lost, and one bad row never keeps the others out:
- Before the insert, each row is cleaned of the characters a database
  refuses (NUL, lone surrogates: `requestlog.row_clean`).
- A batch that fails because the database is unavailable (OperationalError,
  InterfaceError: locked, down) is retried with back-off. A batch that fails
  for any other reason (a value the database refuses) is retried ROW BY ROW
  at once, so only the rows that still fail are set aside.
- Rows set aside go to `DATA_DIR/unwritten-log-rows.jsonl` (`requestlog.spill`)
  for `manage.py replaylogs`, each logged with its request id and the error
  (one line per kind of error; never the values).
- The queue holds at most SWITCHBOARD_LOG_QUEUE_MAX rows (the database stalls,
  the queue would otherwise grow without end): past that, `enqueue` appends
  the row to the spill file instead, counts it in
  `switchboard_log_rows_spilled_total{reason="queue_full"}` and says so in the
  log at most once a minute.
- `shutdown()` (registered with atexit, so it runs when Daphne stops on
  SIGTERM/SIGINT) writes what is queued before the process exits.

After each written batch the writer runs its after-batch hooks (metrics, the
live feed, and whatever other apps register with `add_after_batch`, e.g. the
agents' last match in `routing.agent_matches`): requestlog imports no other
app, the app that wires them (`gateway.apps`) does.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections

from requestlog import metrics, spill
from requestlog.row_clean import clean_row

if TYPE_CHECKING:
    from requestlog.fast_insert import RowInserter

logger = logging.getLogger(__name__)

#: Tries for one batch while the database is unavailable, before its rows are spilled.
WRITE_ATTEMPTS = 4
#: Seconds before the first retry of a failed batch; doubled each time.
RETRY_DELAY = 0.2
#: Where rows go when the database refuses them (DATA_DIR/...), for `manage.py replaylogs`.
SPILL_FILE_NAME = "unwritten-log-rows.jsonl"
#: Seconds shutdown() waits for the queue to drain.
SHUTDOWN_TIMEOUT = 15.0
#: Seconds between two log lines about rows spilled past the queue's bound.
OVERFLOW_LOG_INTERVAL = 60.0
#: Request ids named in one log line about refused rows (the rest are counted).
MAX_IDS_LOGGED = 20
#: Errors that say the database is unavailable, not that a row is bad: worth waiting for.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)

#: A function run in the writer thread with the rows of each batch just written.
AfterBatchHook = Callable[[list[dict[str, Any]]], None]


def spill_path() -> Path:
    return Path(settings.DATA_DIR) / SPILL_FILE_NAME


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
        self._stopping = False
        self._lock = threading.Lock()
        self.written = 0
        self.spilled = 0
        self._inserter: RowInserter | None = None
        #: Run after each written batch; see `add_after_batch`.
        self.after_batch_hooks: list[AfterBatchHook] = []
        self._overflow_unreported = 0
        self._overflow_reported_at: float | None = None

    # --- called from the request path --------------------------------------
    def enqueue(self, row: dict[str, Any]) -> None:
        """Queue `row` for the writer thread; never blocks on the database.

        Past SWITCHBOARD_LOG_QUEUE_MAX queued rows (approximate under
        concurrent callers: the size is read, not reserved), the row is
        appended to the spill file here instead.
        """
        self._ensure_started()
        if self._queue.qsize() >= settings.SWITCHBOARD_LOG_QUEUE_MAX:
            self._spill_overflow(row)
        else:
            self._queue.put(row)

    def add_after_batch(self, hook: AfterBatchHook) -> None:
        """Run `hook(rows)` in the writer thread after each batch is written.

        Its exceptions are logged and swallowed: the rows are already stored.
        Adding the same hook twice runs it once.
        """
        if hook not in self.after_batch_hooks:
            self.after_batch_hooks.append(hook)

    # --- lifecycle -----------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:  # (after a fork, the parent's thread reports not alive)
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
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
        # The process is going: rows written from now on are not pushed to dashboards
        # (at interpreter exit, asgiref can no longer run the channel layer's send).
        self._stopping = True
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
        clean_rows(batch)
        price_rows(batch)
        error = self._insert_batch(batch)
        if error is None:
            self._after_write(batch)
            return
        if isinstance(error, UNAVAILABLE_ERRORS):
            self._spill(batch, [error] * len(batch), reason="database_unavailable")
            return
        written: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        errors: list[BaseException] = []
        for index, row in enumerate(batch):
            row_error = self._insert([row])
            if row_error is None:
                written.append(row)
                continue
            if isinstance(row_error, UNAVAILABLE_ERRORS):  # gone meanwhile: keep the rest too
                rest = batch[index:]
                refused += rest
                errors += [row_error] * len(rest)
                break
            refused.append(row)
            errors.append(row_error)
        if written:
            self._after_write(written)
        if refused:
            self._spill(refused, errors, reason="refused")

    def _insert_batch(self, batch: list[dict[str, Any]]) -> BaseException | None:
        """Insert the batch; retried with back-off while the database is unavailable.

        Returns None once written, else the last error. A refused value is
        not retried here: the same batch would fail the same way.
        """
        delay = RETRY_DELAY
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            error = self._insert(batch)
            if error is None or not isinstance(error, UNAVAILABLE_ERRORS):
                return error
            logger.warning(
                "writing %d log rows failed, database unavailable (attempt %d/%d): %s",
                len(batch),
                attempt,
                WRITE_ATTEMPTS,
                describe_error(error),
            )
            if attempt < WRITE_ATTEMPTS:
                time.sleep(delay)
                delay *= 2
        return error

    def _insert(self, rows: list[dict[str, Any]]) -> BaseException | None:
        """Insert `rows` in one transaction; the error instead of raising it."""
        assert self._inserter is not None  # made by _write
        try:
            close_old_connections()
            self._inserter.insert(rows)
        except Exception as error:
            return error
        self.written += len(rows)
        return None

    def _after_write(self, batch: list[dict[str, Any]]) -> None:
        """Side effects of written rows; a failure here never loses the rows."""
        for hook in [metrics.observe, self._publish, *self.after_batch_hooks]:
            try:
                hook(batch)
            except Exception:
                logger.exception("log writer: after-batch hook %s failed", _name_of(hook))

    def _publish(self, batch: list[dict[str, Any]]) -> None:
        """Push the rows to open dashboards (requestlog.live; never raises)."""
        if self._stopping:
            return
        from requestlog.live import publish_rows

        publish_rows(batch)

    def _spill(
        self, rows: list[dict[str, Any]], errors: list[BaseException], *, reason: str
    ) -> None:
        """Keep rows the database did not take in the spill file; log why, per kind of error."""
        path = spill_path()
        by_kind: dict[str, list[str]] = {}
        for row, error in zip(rows, errors, strict=True):
            by_kind.setdefault(describe_error(error), []).append(str(row.get("request_id")))
        for kind, request_ids in by_kind.items():
            logger.error(
                "%d log rows not written (%s), kept in %s for `manage.py replaylogs`: %s",
                len(request_ids),
                kind,
                path,
                name_ids(request_ids),
            )
        self._append_to_spill(rows, reason)

    def _spill_overflow(self, row: dict[str, Any]) -> None:
        """A row past the queue's bound goes straight to the spill file (request path)."""
        self._append_to_spill([row], "queue_full")
        self._overflow_unreported += 1
        now = time.monotonic()
        last = self._overflow_reported_at
        if last is None or now - last >= OVERFLOW_LOG_INTERVAL:
            self._overflow_reported_at = now
            count, self._overflow_unreported = self._overflow_unreported, 0
            logger.error(
                "log queue full (SWITCHBOARD_LOG_QUEUE_MAX=%d): %d log rows kept in %s "
                "for `manage.py replaylogs`%s",
                settings.SWITCHBOARD_LOG_QUEUE_MAX,
                count,
                spill_path(),
                "" if last is None else f" in the last {now - last:.0f}s",
            )

    def _append_to_spill(self, rows: list[dict[str, Any]], reason: str) -> None:
        try:
            spill.append_lines(spill_path(), [spill.row_line(row) for row in rows])
        except Exception:
            logger.exception(
                "could not keep %d log rows anywhere: %s",
                len(rows),
                name_ids([str(row.get("request_id")) for row in rows]),
            )
            return
        self.spilled += len(rows)
        metrics.log_rows_spilled_total.labels(reason).inc(len(rows))


def clean_rows(batch: list[dict[str, Any]]) -> None:
    """Replace what the database refuses in each row (requestlog.row_clean), in place."""
    for row in batch:
        try:
            changed = clean_row(row)
        except Exception:  # e.g. JSON nested deeper than the recursion limit
            logger.exception("could not clean log row %s", row.get("request_id"))
            continue
        if changed:
            logger.info(
                "log row %s: replaced NUL or lone surrogates in %s",
                row.get("request_id"),
                ", ".join(changed),
            )


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


def describe_error(error: BaseException) -> str:
    """The error's class and first line, for the log: database messages may quote values
    on later lines (PostgreSQL's DETAIL), which may hold what a client sent."""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line[:200]}"


def name_ids(request_ids: list[str]) -> str:
    named = ", ".join(request_ids[:MAX_IDS_LOGGED])
    more = len(request_ids) - MAX_IDS_LOGGED
    return named + (f" and {more} more" if more > 0 else "")


def _name_of(hook: Callable[..., Any]) -> str:
    return getattr(hook, "__qualname__", None) or repr(hook)


log_writer = LogWriter()
atexit.register(log_writer.shutdown)
