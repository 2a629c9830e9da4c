"""SSE helpers shared by the wire formats: encoding events and finding the last one."""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True)
class StreamParts:
    """An SSE answer cut where a slow upstream would pause.

    `head` (stream start) and the first delta go out at once; the mock waits
    its chunk delay before each later delta; `tail` (stream end) follows the
    last delta immediately.
    """

    head: bytes
    deltas: tuple[bytes, ...]
    tail: bytes

    def whole(self) -> bytes:
        return self.head + b"".join(self.deltas) + self.tail


def sse_event(event: str | None, data: object) -> bytes:
    """One event with compact JSON data (or a literal string such as `[DONE]`)."""
    payload = data.encode() if isinstance(data, str) else orjson.dumps(data)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + payload + b"\n\n"


def event_blocks(body: bytes) -> list[bytes]:
    """The non-empty events of an SSE body, in order (`\\n\\n`-separated, as the mock sends)."""
    normalized = body.replace(b"\r\n", b"\n")
    return [block for block in normalized.split(b"\n\n") if block.strip()]


def field_value(block: bytes, name: bytes) -> bytes | None:
    """The value of the first `name:` line of one event block, without the leading space."""
    prefix = name + b":"
    for line in block.split(b"\n"):
        if line.startswith(prefix):
            return line[len(prefix) :].lstrip(b" ")
    return None
