"""Server-sent events: an incremental decoder and an encoder.

`SSEDecoder.feed()` takes network chunks split anywhere (inside a line, inside
a UTF-8 character, inside `\r\n`) and returns the complete events so far;
`flush()` returns an event left without its closing blank line at the end of
the stream. The cap bounds memory: when an unfinished line held between
chunks grows past `max_line_bytes`, feed() raises SSELineTooLong. The decoder
only serves logging and translation; the passthrough relay forwards bytes
untouched and has no line limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

#: A single SSE line larger than this is refused by the decoder (not the relay).
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024


class SSELineTooLong(ValueError):
    pass


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str

    def json(self) -> object:
        return orjson.loads(self.data)


class SSEDecoder:
    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._buffer = bytearray()
        self._max_line_bytes = max_line_bytes
        self._pending_cr = False
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        if not chunk:
            return events  # an empty read must not forget a pending \r
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the \n of a \r\n split across chunks
        self._pending_cr = False
        self._buffer += chunk
        start = 0
        buffer = self._buffer
        length = len(buffer)
        while start < length:
            nl = buffer.find(b"\n", start)
            cr = buffer.find(b"\r", start, nl if nl != -1 else length)
            if cr != -1:
                end, next_start = cr, cr + 1
                if cr + 1 < length and buffer[cr + 1] == 0x0A:
                    next_start = cr + 2
                elif cr + 1 == length:
                    self._pending_cr = True
            elif nl != -1:
                end, next_start = nl, nl + 1
            else:
                break
            self._line(bytes(buffer[start:end]).decode("utf-8", "replace"), events)
            start = next_start
        del buffer[:start]
        if len(buffer) > self._max_line_bytes:
            raise SSELineTooLong(f"an SSE line is longer than {self._max_line_bytes} bytes")
        return events

    def flush(self) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        if self._buffer:
            self._line(bytes(self._buffer).decode("utf-8", "replace"), events)
            self._buffer.clear()
        self._line("", events)
        return events

    def _line(self, line: str, events: list[ServerSentEvent]) -> None:
        if line == "":
            if self._data or self._event:
                events.append(ServerSentEvent(self._event or "message", "\n".join(self._data)))
            self._event, self._data = "", []
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)


def encode_event(event: str, data: object) -> bytes:
    """One SSE event with compact JSON data (UTF-8, no spaces), as Anthropic sends them."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def encode_events(events: Iterable[tuple[str, object]]) -> bytes:
    """Several events, concatenated (a translator call may yield many)."""
    return b"".join(encode_event(name, data) for name, data in events)
