"""Anthropic Messages JSON (as logged) turned into blocks a template can show.

A logged body may be cut at SWITCHBOARD_LOG_BODY_MAX_BYTES, which leaves
invalid JSON: the messages before the cut are still recovered one by one
(`json.JSONDecoder.raw_decode`), and the page says the rest was cut.

Images become `data:` URIs only for the four image types the API accepts and
base64 text; anything else is shown as a description. Every string reaches
the template as plain text, to be escaped there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_DECODER = json.JSONDecoder()
PREVIEW_CHARS = 300
SYSTEM_REMINDER = "<system-reminder>"


@dataclass
class Block:
    """One content block as shown: `kind` picks the template branch."""

    kind: str  # text, reminder, image, tool_use, tool_result, thinking, redacted, other
    text: str = ""
    name: str = ""
    label: str = ""
    pretty: str = ""
    src: str = ""
    is_error: bool = False
    children: list[Block] = field(default_factory=list)


@dataclass
class Turn:
    role: str
    blocks: list[Block]


@dataclass
class Conversation:
    system: list[Block] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    cut: bool = False  # the body was truncated when logged; later turns are missing
    parsed: bool = True  # False when nothing could be read as Messages JSON


def pretty_json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def pretty_body(text: str) -> str:
    """A logged body indented for reading, or as it is when it is not (complete) JSON."""
    if not text:
        return ""
    try:
        return pretty_json(orjson.loads(text))
    except orjson.JSONDecodeError:
        return text


def load_json(text: str) -> Any:
    try:
        return orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return None


def image_block(source: Any) -> Block:
    if not isinstance(source, dict):
        return Block(kind="other", label="image", pretty=pretty_json(source))
    kind = source.get("type")
    media_type = source.get("media_type")
    data = source.get("data")
    if (
        kind == "base64"
        and media_type in IMAGE_TYPES
        and isinstance(data, str)
        and _BASE64.fullmatch(data)
    ):
        size = len(data) * 3 // 4
        return Block(
            kind="image",
            src=f"data:{media_type};base64,{data}",
            label=f"{media_type}, {size / 1024:.1f} KiB",
        )
    if kind == "url":
        # Not loaded: the dashboard never fetches third-party URLs from logged content.
        return Block(kind="text", label="image (url)", text=str(source.get("url", "")))
    if kind == "file":
        return Block(kind="text", label="image (file)", text=str(source.get("file_id", "")))
    return Block(kind="other", label=f"image ({kind})", pretty=pretty_json(source))


def content_blocks(content: Any) -> list[Block]:
    """The blocks of a message's `content` (a string or a list of blocks)."""
    if isinstance(content, str):
        return [Block(kind="text", text=content)]
    if not isinstance(content, list):
        return [] if content is None else [Block(kind="other", pretty=pretty_json(content))]
    return [content_block(block) for block in content]


def content_block(block: Any) -> Block:
    if not isinstance(block, dict):
        return Block(kind="other", pretty=pretty_json(block))
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        if not isinstance(text, str):
            return Block(kind="text", text=pretty_json(text))
        if text.lstrip().startswith(SYSTEM_REMINDER):
            # Context Claude Code adds to a turn: folded, so the person's own words stand out.
            return Block(kind="reminder", text=text)
        return Block(kind="text", text=text)
    if kind == "image":
        return image_block(block.get("source"))
    if kind in ("tool_use", "server_tool_use"):
        return Block(
            kind="tool_use",
            name=str(block.get("name", "")),
            label=str(block.get("id", "")),
            pretty=pretty_json(block.get("input", {})),
        )
    if kind == "tool_result":
        return Block(
            kind="tool_result",
            label=str(block.get("tool_use_id", "")),
            is_error=block.get("is_error") is True,
            children=content_blocks(block.get("content")),
        )
    if kind == "thinking":
        return Block(kind="thinking", text=str(block.get("thinking", "")))
    if kind == "redacted_thinking":
        return Block(kind="redacted", label="redacted thinking")
    if kind == "document":
        source = block.get("source") if isinstance(block.get("source"), dict) else {}
        described = {k: v for k, v in source.items() if k != "data"}
        if "data" in source:
            described["data"] = f"<{len(str(source['data']))} characters>"
        return Block(
            kind="other",
            label=f"document {block.get('title') or ''}".strip(),
            pretty=pretty_json(described),
        )
    return Block(kind="other", label=str(kind or "block"), pretty=pretty_json(block))


def _partial_messages(text: str) -> list[Any]:
    """The complete message objects at the start of a cut `"messages": [...]` array."""
    start = text.find('"messages"')
    if start < 0:
        return []
    start = text.find("[", start)
    if start < 0:
        return []
    messages: list[Any] = []
    index = start + 1
    while True:
        while index < len(text) and text[index] in " \t\r\n,":
            index += 1
        if index >= len(text) or text[index] == "]":
            return messages
        try:
            message, index = _DECODER.raw_decode(text, index)
        except ValueError:
            return messages
        messages.append(message)


def conversation(request_body: str) -> Conversation:
    """The system prompt, turns and tools of a logged client request."""
    payload = load_json(request_body)
    result = Conversation()
    if not isinstance(payload, dict):
        messages = _partial_messages(request_body) if request_body else []
        result.cut = bool(request_body)
        result.parsed = bool(messages)
        payload = {"messages": messages}
    system = payload.get("system")
    if system:
        result.system = content_blocks(system)
    for message in payload.get("messages") or ():
        if isinstance(message, dict):
            role = str(message.get("role", "?"))
            result.turns.append(Turn(role=role, blocks=content_blocks(message.get("content"))))
    tools = payload.get("tools")
    if isinstance(tools, list):
        result.tools = [
            str(t.get("name") or t.get("type") or "?") for t in tools if isinstance(t, dict)
        ]
    for name in ("model", "max_tokens", "temperature", "top_p", "top_k", "stream"):
        if name in payload:
            result.params.append((name, json.dumps(payload[name])))
    for name in ("thinking", "tool_choice", "stop_sequences", "metadata"):
        if payload.get(name) is not None:
            result.params.append((name, orjson.dumps(payload[name]).decode()))
    return result


@dataclass
class Answer:
    blocks: list[Block] = field(default_factory=list)
    stop_reason: str = ""
    error: str = ""
    parsed: bool = True


def answer(response_body: str) -> Answer:
    """The response message (assembled for streams), or the error the client got."""
    if not response_body:
        return Answer(parsed=False)
    payload = load_json(response_body)
    if not isinstance(payload, dict):
        return Answer(parsed=False)
    if payload.get("type") == "error" or ("error" in payload and "content" not in payload):
        error = payload.get("error")
        if isinstance(error, dict):
            return Answer(error=f"{error.get('type', 'error')}: {error.get('message', '')}")
        return Answer(error=pretty_json(payload))
    return Answer(
        blocks=content_blocks(payload.get("content")),
        stop_reason=str(payload.get("stop_reason") or ""),
    )


def _text_of(content: Any, skip_reminders: bool) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = [
        block.get("text", "")
        for block in content
        if isinstance(block, dict) and block.get("type") == "text"
    ]
    if skip_reminders:
        # Claude Code puts <system-reminder> blocks before what the person typed.
        typed = [
            t for t in texts if isinstance(t, str) and not t.lstrip().startswith(SYSTEM_REMINDER)
        ]
        texts = typed or texts
    return "\n".join(t for t in texts if isinstance(t, str))


def first_prompt(request_body: str) -> str:
    """The first user message's text (without Claude Code's reminders), shortened."""
    payload = load_json(request_body)
    messages = (
        payload.get("messages") if isinstance(payload, dict) else _partial_messages(request_body)
    )
    for message in messages or ():
        if isinstance(message, dict) and message.get("role") == "user":
            return preview(_text_of(message.get("content"), skip_reminders=True))
    return ""


def answer_preview(response_body: str) -> str:
    """The text of a logged answer (or its tool calls), shortened."""
    payload = load_json(response_body)
    if not isinstance(payload, dict):
        return ""
    content = payload.get("content")
    text = _text_of(content, skip_reminders=False)
    if not text and isinstance(content, list):
        calls = [
            str(block.get("name", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") in ("tool_use", "server_tool_use")
        ]
        text = f"[tool calls: {', '.join(calls)}]" if calls else ""
    if not text and isinstance(payload.get("error"), dict):
        text = f"[error: {payload['error'].get('message', '')}]"
    return preview(text)


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
