"""Helpers for the translation tests: replaying recorded streams and checking events.

Pure Python, no Django: these tests run with `-p no:django`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from anthropic.lib.streaming._messages import accumulate_event

from providers.openai.presets import Preset
from providers.openai.stream_to_anthropic import Event, StreamTranslator

FIXTURES = Path(__file__).parent / "fixtures"


def chunks_from_sse(text: str) -> tuple[list[dict[str, Any]], bool]:
    """The JSON chunks of a recorded upstream SSE body, and whether it ended with [DONE]."""
    chunks: list[dict[str, Any]] = []
    done = False
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[len("data:") :].strip()
        if payload == "[DONE]":
            done = True
            break
        chunks.append(json.loads(payload))
    return chunks, done


def recorded(name: str) -> tuple[list[dict[str, Any]], bool]:
    return chunks_from_sse((FIXTURES / name).read_text(encoding="utf-8"))


def run_stream(
    chunks: Iterable[Mapping[str, Any]], preset: Preset, *, model: str = "claude-sonnet-4-5"
) -> list[Event]:
    """Feed every chunk, then finish as the view would at [DONE]."""
    translator = StreamTranslator(requested_model=model, preset=preset)
    events: list[Event] = []
    for chunk in chunks:
        events += translator.feed(chunk)
    events += translator.finish()
    return events


def names(events: Iterable[Event]) -> list[str]:
    return [name for name, _ in events]


def check_events(events: list[Event]) -> list[dict[str, Any]]:
    """Assert the Anthropic stream grammar; return the blocks it built.

    Each block is {"type", "text" | "thinking" | "json" (concatenated
    partial_json), plus "id"/"name" for tool_use}.
    """
    assert events, "no events"
    assert events[0][0] == "message_start"
    assert names(events).count("message_start") == 1
    for name, data in events:
        assert data["type"] == name, (name, data)
    blocks: list[dict[str, Any]] = []
    open_index: int | None = None
    ended = False
    for position, (name, data) in enumerate(events[1:], start=1):
        assert not ended, f"event after message_stop: {name}"
        if name == "content_block_start":
            assert open_index is None, "a block started while another is open"
            assert data["index"] == len(blocks), "indices must be consecutive from 0"
            block = dict(data["content_block"])
            if block["type"] == "tool_use":
                block["json"] = ""
                assert block["input"] == {}
            blocks.append(block)
            open_index = data["index"]
        elif name == "content_block_delta":
            assert data["index"] == open_index, "delta for a block that is not open"
            block, delta = blocks[open_index], data["delta"]
            if delta["type"] == "text_delta":
                assert block["type"] == "text"
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                assert block["type"] == "thinking"
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "input_json_delta":
                assert block["type"] == "tool_use"
                block["json"] += delta["partial_json"]
            else:
                raise AssertionError(f"unexpected delta {delta}")
        elif name == "content_block_stop":
            assert data["index"] == open_index, "stop for a block that is not open"
            open_index = None
        elif name == "message_delta":
            assert open_index is None, "message_delta while a block is open"
            assert events[position + 1][0] == "message_stop"
            for key in (
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ):
                assert isinstance(data["usage"][key], int), key
        elif name == "message_stop":
            ended = True
        elif name == "ping":
            pass
        else:
            raise AssertionError(f"unexpected event {name}")
    assert ended, "no message_stop"
    for block in blocks:
        if block["type"] == "tool_use":
            block["input"] = json.loads(block["json"])
            assert isinstance(block["input"], dict)
    return blocks


def sdk_message(events: list[Event]) -> Any:
    """Accumulate the events with the Anthropic SDK, as a client would."""
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for _name, data in events:
        if data["type"] in ("ping", "error"):
            continue
        snapshot = accumulate_event(event=data, current_snapshot=snapshot, json_bufs=json_bufs)
    return snapshot
