"""Rebuilds the final Message from an Anthropic event stream, for the request log.

Fed the decoded events as the relay forwards them; never alters the stream.
Keeps input/cache tokens from `message_start` and output tokens from
`message_delta`, tool_use inputs parsed from their JSON fragments, thinking
text and signatures, and the error of an `event: error`.
"""

from __future__ import annotations

from typing import Any

import orjson

from providers.sse import ServerSentEvent

#: The delta types that carry text, and the block field each one extends.
TEXT_FIELDS = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "signature_delta": "signature",
}


class MessageAccumulator:
    def __init__(self) -> None:
        self.message: dict[str, Any] | None = None
        self.blocks: dict[int, dict[str, Any]] = {}
        self._json_parts: dict[int, list[str]] = {}
        # Text, thinking and signature fragments, joined when the block ends (appending
        # to a str on every delta costs quadratic time on long answers).
        self._text_parts: dict[tuple[int, str], list[str]] = {}
        self.usage: dict[str, Any] = {}
        self.stopped = False
        self.error: dict[str, Any] | None = None

    def feed(self, event: ServerSentEvent) -> None:
        if event.event == "ping" or not event.data:
            return
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(data, dict):
            return
        kind = data.get("type", event.event)
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(data)

    def feed_event(self, name: str, data: dict[str, Any]) -> None:
        """Feed an event the gateway built itself (translation), already parsed."""
        if name == "ping":
            return
        handler = getattr(self, f"_on_{data.get('type', name)}", None)
        if handler is not None:
            handler(data)

    def _on_message_start(self, data: dict[str, Any]) -> None:
        message = data.get("message") or {}
        self.message = {k: v for k, v in message.items() if k != "content"}
        self.usage.update(message.get("usage") or {})

    def _on_content_block_start(self, data: dict[str, Any]) -> None:
        index = data.get("index", len(self.blocks))
        self.blocks[index] = dict(data.get("content_block") or {})

    def _on_content_block_delta(self, data: dict[str, Any]) -> None:
        index = data.get("index", 0)
        block = self.blocks.setdefault(index, {"type": "text", "text": ""})
        delta = data.get("delta") or {}
        kind = delta.get("type")
        field = TEXT_FIELDS.get(kind) if isinstance(kind, str) else None
        if field is not None:
            text = delta.get(field, "")
            if isinstance(text, str):
                self._text_parts.setdefault((index, field), []).append(text)
        elif kind == "input_json_delta":
            self._json_parts.setdefault(index, []).append(delta.get("partial_json", ""))
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation"))

    def _join_text(self) -> None:
        """Move the text fragments gathered so far into their blocks."""
        for (index, field), parts in self._text_parts.items():
            block = self.blocks.get(index)
            if block is not None and parts:
                before = block.get(field, "")
                block[field] = (before if isinstance(before, str) else "") + "".join(parts)
        self._text_parts.clear()

    def _on_content_block_stop(self, data: dict[str, Any]) -> None:
        self._join_text()
        index = data.get("index", 0)
        parts = self._json_parts.pop(index, None)
        if parts is not None and index in self.blocks:
            raw = "".join(parts)
            try:
                self.blocks[index]["input"] = orjson.loads(raw) if raw else {}
            except orjson.JSONDecodeError:
                self.blocks[index]["input"] = raw

    def _on_message_delta(self, data: dict[str, Any]) -> None:
        if self.message is None:
            self.message = {}
        self.message.update(data.get("delta") or {})
        usage = data.get("usage") or {}
        self.usage.update({k: v for k, v in usage.items() if v is not None})

    def _on_message_stop(self, data: dict[str, Any]) -> None:
        self.stopped = True

    def _on_error(self, data: dict[str, Any]) -> None:
        self.error = data.get("error") or data

    def final_message(self) -> dict[str, Any]:
        """The message as the client's SDK would assemble it (so far)."""
        self._join_text()
        message = dict(self.message or {})
        message["content"] = [self.blocks[i] for i in sorted(self.blocks)]
        message["usage"] = dict(self.usage)
        if self.error is not None:
            message["error"] = self.error
        return message
