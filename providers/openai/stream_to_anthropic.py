"""Translate a streamed Chat Completions answer into Anthropic stream events.

The caller parses each `data:` line of the upstream SSE stream into a dict
and feeds it to a `StreamTranslator`; each call returns the Anthropic events
(event name, data dict) to send, ready for `providers.sse.encode_event`.

`parse_chunk()` converts one chunk without any state (reasoning, text and
tool-call pieces, finish_reason, usage); the class owns the event lifecycle.

What is lost: choices after the first; logprobs; reasoning signatures (none
exist upstream: thinking blocks carry an empty signature and no
signature_delta is sent); the exact interleaving of argument fragments of
parallel tool calls (see below); characters after a tool call's complete
JSON object (trailing garbage). Usage is known only at the end in Chat
Completions, so `message_start` reports zero input tokens unless the first
chunk had usage, and the real figures (input, cache read/write, output) are
sent in `message_delta.usage`, which the Anthropic SDK accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from providers.openai.presets import Preset
from providers.openai.response_to_anthropic import (
    anthropic_usage,
    error_text,
    matched_stop_sequence,
    message_id,
    new_tool_use_id,
    reasoning_text,
    split_content,
    stop_reason_for,
)
from providers.openai.tool_arguments import StreamingJsonObject

Event = tuple[str, dict[str, Any]]
TextKind = Literal["thinking", "text"]


@dataclass(frozen=True)
class TextPiece:
    kind: TextKind
    text: str


@dataclass(frozen=True)
class ToolFragment:
    """Part of one tool call: `index` (OpenAI's), and whatever this chunk carried."""

    index: int | None
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True)
class ChunkParts:
    pieces: list[TextPiece | ToolFragment]
    finish_reason: str | None = None
    matched_stop: str | None = None
    usage: Mapping[str, Any] | None = None
    refused: bool = False


def parse_chunk(chunk: Mapping[str, Any], preset: Preset) -> ChunkParts:
    """The pieces of one `chat.completion.chunk`, in the order they should appear."""
    usage = chunk.get("usage")
    if not isinstance(usage, Mapping):
        x_groq = chunk.get("x_groq")  # Groq reports usage here
        usage = x_groq.get("usage") if isinstance(x_groq, Mapping) else None
        if not isinstance(usage, Mapping):
            usage = None
    choice = _first_choice(chunk.get("choices"))
    if choice is None:
        return ChunkParts(pieces=[], usage=usage)
    delta = choice.get("delta")
    if not isinstance(delta, Mapping):
        delta = {}

    pieces: list[TextPiece | ToolFragment] = []
    reasoning = reasoning_text(delta, preset)
    if reasoning:
        pieces.append(TextPiece("thinking", reasoning))
    texts, thinking = split_content(delta.get("content"))
    pieces.extend(TextPiece("thinking", text) for text in thinking)
    pieces.extend(TextPiece("text", text) for text in texts)
    refusal = delta.get("refusal")
    refused = isinstance(refusal, str) and bool(refusal)
    if isinstance(refusal, str) and refusal:
        pieces.append(TextPiece("text", refusal))

    calls = delta.get("tool_calls")
    if isinstance(calls, list):
        pieces.extend(_tool_fragment(call) for call in calls if isinstance(call, Mapping))
    legacy = delta.get("function_call")
    if isinstance(legacy, Mapping):
        pieces.append(_tool_fragment({"index": 0, "function": legacy}))

    finish_reason = choice.get("finish_reason")
    return ChunkParts(
        pieces=pieces,
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        matched_stop=matched_stop_sequence(choice),
        usage=usage,
        refused=refused,
    )


def _first_choice(choices: Any) -> Mapping[str, Any] | None:
    if not isinstance(choices, list):
        return None
    for choice in choices:
        if isinstance(choice, Mapping) and choice.get("index", 0) == 0:
            return choice
    return None


def _tool_fragment(call: Mapping[str, Any]) -> ToolFragment:
    function = call.get("function")
    if not isinstance(function, Mapping):
        function = {}
    arguments = function.get("arguments")
    if isinstance(arguments, Mapping):  # an object instead of a JSON string
        arguments = orjson.dumps(arguments).decode()
    index = call.get("index")
    call_id = call.get("id")
    name = function.get("name")
    return ToolFragment(
        index=index if isinstance(index, int) and not isinstance(index, bool) else None,
        id=call_id if isinstance(call_id, str) and call_id else None,
        name=name if isinstance(name, str) and name else None,
        arguments=arguments if isinstance(arguments, str) else "",
    )


@dataclass
class _ToolCall:
    id: str | None
    name: str | None
    tracker: StreamingJsonObject = field(default_factory=StreamingJsonObject)
    pending: list[str] = field(default_factory=list)  # arguments not yet forwarded
    block_index: int | None = None
    closed: bool = False


@dataclass
class _OpenBlock:
    kind: Literal["thinking", "text", "tool_use"]
    index: int
    call: _ToolCall | None = None


class StreamTranslator:
    """Turns OpenAI stream chunks into the Anthropic event sequence.

    Promises (each has a test in tests/translation/test_stream_to_anthropic.py):

    1. `message_start` is the first event and is sent exactly once. (If the
       stream fails before anything was sent, the lone event is `error`.)
    2. Blocks open with `content_block_start` and close with
       `content_block_stop`; their `index` starts at 0 and goes up by one;
       one block is open at a time and every delta belongs to it.
    3. Reasoning deltas (`reasoning_content` / `reasoning`) become thinking
       blocks, content deltas text blocks; a change of kind closes the block.
    4. Each upstream tool call (by its `index`) becomes one tool_use block.
       The open call's argument fragments are forwarded as they arrive.
       Fragments of another call that arrive meanwhile are buffered, and the
       call is sent when the open call's JSON object is complete, or at the
       end; text arriving while a call's arguments are incomplete waits too.
    5. The `partial_json` of each tool_use block concatenates to one valid
       JSON object (`{}` when no arguments came). Arguments that cannot be
       made valid end the stream with an `error` event instead.
    6. `finish()` sends `message_delta` (stop_reason `tool_use` whenever a
       tool call was made; stop_sequence; usage with input, cache and output
       numbers, never null) and then `message_stop`.
    7. After `message_stop` or `error`, every method returns no events.
    8. `ping()` never comes before `message_start`; it sends it first if
       needed (which commits the response: no fallback after that).

    End of input: call `finish()` at `[DONE]`. If the upstream closes without
    `[DONE]`, call `finish()` when `upstream_finished` is true (a
    finish_reason arrived), else `fail(...)`: the answer was cut off.
    """

    def __init__(
        self, *, requested_model: str, preset: Preset, message_id: str | None = None
    ) -> None:
        self.requested_model = requested_model
        self.preset = preset
        self._message_id = message_id
        self._started = False
        self._done = False
        self._next_index = 0
        self._open: _OpenBlock | None = None
        self._calls: dict[int, _ToolCall] = {}
        self._call_order: list[_ToolCall] = []
        self._deferred: list[TextPiece] = []
        self._saw_tool_call = False
        self._finish_reason: str | None = None
        self._matched_stop: str | None = None
        self._refused = False
        self._usage: Mapping[str, Any] | None = None

    @property
    def upstream_finished(self) -> bool:
        """Whether the upstream sent a finish_reason."""
        return self._finish_reason is not None

    @property
    def done(self) -> bool:
        """Whether `message_stop` or `error` has been sent."""
        return self._done

    # -- public lifecycle --------------------------------------------------

    def feed(self, chunk: Mapping[str, Any]) -> list[Event]:
        """Events for one parsed upstream chunk."""
        if self._done:
            return []
        if not isinstance(chunk, Mapping):
            return self.fail("upstream sent a stream chunk that is not a JSON object")
        if chunk.get("error"):
            return self.fail(f"upstream error: {error_text(chunk['error'])}")
        parts = parse_chunk(chunk, self.preset)
        events: list[Event] = []
        if not self._started:
            events += self._message_start(chunk.get("id"), parts.usage)
        if parts.usage is not None:
            self._usage = parts.usage
        for piece in parts.pieces:
            if self._done:
                break
            if isinstance(piece, ToolFragment):
                events += self._tool_fragment(piece)
            else:
                events += self._text(piece)
        if parts.finish_reason is not None:
            self._finish_reason = parts.finish_reason
        if parts.matched_stop is not None:
            self._matched_stop = parts.matched_stop
        self._refused = self._refused or parts.refused
        return events

    def finish(self) -> list[Event]:
        """Close everything and end the message (at `[DONE]` or a finished EOF)."""
        if self._done:
            return []
        events: list[Event] = []
        if not self._started:
            events += self._message_start(None, None)
        while self._open is not None and not self._done:
            events += self._close_open()
        for call in self._call_order:
            if self._done:
                break
            if call.block_index is None:  # only possible for a call that never got a name
                events += self.fail("upstream sent a tool call without a function name")
        if self._done:
            return events
        stop_reason, stop_sequence = stop_reason_for(
            self._finish_reason,
            has_tool_calls=self._saw_tool_call,
            matched_stop=self._matched_stop,
            refused=self._refused,
        )
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                    "usage": anthropic_usage(self._usage),
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        self._done = True
        return events

    def fail(self, message: str) -> list[Event]:
        """An `error` event (api_error) that ends the stream.

        Open blocks are left open, as Anthropic does when it fails mid-stream.
        """
        if self._done:
            return []
        self._done = True
        return [("error", {"type": "error", "error": {"type": "api_error", "message": message}})]

    def ping(self) -> list[Event]:
        """A keep-alive `ping` (preceded by `message_start` if not yet sent)."""
        if self._done:
            return []
        events = [] if self._started else self._message_start(None, None)
        events.append(("ping", {"type": "ping"}))
        return events

    # -- blocks ------------------------------------------------------------

    def _message_start(self, upstream_id: Any, usage: Mapping[str, Any] | None) -> list[Event]:
        self._started = True
        message: dict[str, Any] = {
            "id": self._message_id or message_id(upstream_id),
            "type": "message",
            "role": "assistant",
            "model": self.requested_model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": anthropic_usage(usage),
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _open_block(
        self,
        kind: Literal["thinking", "text", "tool_use"],
        content_block: dict[str, Any],
        call: _ToolCall | None = None,
    ) -> Event:
        index = self._next_index
        self._next_index += 1
        self._open = _OpenBlock(kind, index, call)
        data = {"type": "content_block_start", "index": index, "content_block": content_block}
        return ("content_block_start", data)

    def _delta(self, delta: dict[str, Any]) -> Event:
        assert self._open is not None
        return (
            "content_block_delta",
            {"type": "content_block_delta", "index": self._open.index, "delta": delta},
        )

    def _close_open(self) -> list[Event]:
        block = self._open
        assert block is not None
        events: list[Event] = []
        call = block.call
        if call is not None:
            suffix = call.tracker.finish(tool_name=call.name or "")
            if suffix is None:
                return self.fail(
                    f"upstream sent invalid JSON arguments for tool call {call.name!r}: "
                    f"{call.tracker.forwarded[:200]!r}"
                )
            if suffix:
                events.append(self._delta({"type": "input_json_delta", "partial_json": suffix}))
            call.closed = True
        events.append(("content_block_stop", {"type": "content_block_stop", "index": block.index}))
        self._open = None
        if call is not None:
            events += self._after_tool_call()
        return events

    def _live_call(self) -> _ToolCall | None:
        return self._open.call if self._open is not None else None

    # -- text --------------------------------------------------------------

    def _text(self, piece: TextPiece) -> list[Event]:
        if self._live_call() is not None:
            self._deferred.append(piece)  # the open call's arguments are incomplete
            return []
        events: list[Event] = []
        if self._open is not None and self._open.kind != piece.kind:
            events += self._close_open()
        if self._open is None:
            if piece.kind == "thinking":
                events.append(
                    self._open_block(
                        "thinking", {"type": "thinking", "thinking": "", "signature": ""}
                    )
                )
            else:
                events.append(self._open_block("text", {"type": "text", "text": ""}))
        if piece.kind == "thinking":
            events.append(self._delta({"type": "thinking_delta", "thinking": piece.text}))
        else:
            events.append(self._delta({"type": "text_delta", "text": piece.text}))
        return events

    # -- tool calls ----------------------------------------------------------

    def _call_for(self, fragment: ToolFragment) -> _ToolCall:
        call: _ToolCall | None = None
        if fragment.index is not None:
            call = self._calls.get(fragment.index)
            if call is not None and fragment.id and call.id and fragment.id != call.id:
                call = None  # a server that numbers every call 0
        elif fragment.id:
            call = next((c for c in self._call_order if c.id == fragment.id), None)
        elif self._call_order:
            call = self._call_order[-1]
        if call is None:
            call = _ToolCall(id=fragment.id, name=fragment.name)
            self._call_order.append(call)
            if fragment.index is not None:
                self._calls[fragment.index] = call
        return call

    def _tool_fragment(self, fragment: ToolFragment) -> list[Event]:
        call = self._call_for(fragment)
        if call.closed:
            return []  # after its complete object: trailing garbage
        call.id = call.id or fragment.id
        call.name = call.name or fragment.name
        if fragment.arguments:
            call.pending.append(fragment.arguments)
        live = self._live_call()
        if live is call:
            return self._forward_arguments()
        if live is None and call.name:
            return self._start_call(call)
        return []  # another call is open: buffered until it completes

    def _start_call(self, call: _ToolCall) -> list[Event]:
        events: list[Event] = []
        if self._open is not None:
            events += self._close_open()
        call.id = call.id or new_tool_use_id()
        self._saw_tool_call = True
        block: dict[str, Any] = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        events.append(self._open_block("tool_use", block, call))
        assert self._open is not None
        call.block_index = self._open.index
        return events + self._forward_arguments()

    def _forward_arguments(self) -> list[Event]:
        call = self._live_call()
        assert call is not None
        events: list[Event] = []
        if call.pending:
            text = call.tracker.feed("".join(call.pending))
            call.pending.clear()
            if text:
                events.append(self._delta({"type": "input_json_delta", "partial_json": text}))
        if call.tracker.complete:
            events += self._close_open()
        return events

    def _after_tool_call(self) -> list[Event]:
        """A tool block just closed: send what waited for it."""
        events: list[Event] = []
        deferred, self._deferred = self._deferred, []
        for piece in deferred:
            events += self._text(piece)
        for call in self._call_order:
            if self._done or self._live_call() is not None:
                break
            if call.block_index is None and call.name:
                events += self._start_call(call)
        return events
