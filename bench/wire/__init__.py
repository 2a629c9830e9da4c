"""The wire formats the benchmark speaks, one small module each, looked up by name.

A `Wire` bundles what the mock upstream answers and what the load generator
sends and accepts for one API: the request body, the canned JSON answer, the
canned SSE stream, and the checks that a response is complete. Adding a
format means one module with these six things and one entry in `WIRES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.wire import anthropic, openai
from bench.wire.stream import StreamParts

__all__ = ["WIRES", "StreamParts", "Wire", "wire_for_path"]


@dataclass(frozen=True)
class Wire:
    name: str
    #: The path this API is served on, e.g. `/v1/messages`.
    path: str
    #: The body a client sends: `request_body(stream=...)`.
    request_body: Callable[..., bytes]
    #: The whole non-streaming answer for `chunks` pieces of text.
    message: Callable[[int], bytes]
    #: The SSE answer for `chunks` pieces of text, split where the mock may pause.
    stream: Callable[[int], StreamParts]
    #: None when a JSON answer is complete, else why not.
    check_message: Callable[[bytes], str | None]
    #: None when an SSE answer is complete, else why not.
    check_stream: Callable[[bytes], str | None]


WIRES: dict[str, Wire] = {
    "anthropic": Wire(
        name="anthropic",
        path=anthropic.PATH,
        request_body=anthropic.request_body,
        message=anthropic.message,
        stream=anthropic.stream,
        check_message=anthropic.check_message,
        check_stream=anthropic.check_stream,
    ),
    "openai": Wire(
        name="openai",
        path=openai.PATH,
        request_body=openai.request_body,
        message=openai.message,
        stream=openai.stream,
        check_message=openai.check_message,
        check_stream=openai.check_stream,
    ),
}


def wire_for_path(path: str) -> Wire | None:
    """The wire format served on `path`, if any."""
    for wire in WIRES.values():
        if wire.path == path:
            return wire
    return None
