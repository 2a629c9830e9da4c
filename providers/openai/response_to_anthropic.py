"""Translate an OpenAI Chat Completions response (or error) into Anthropic's shapes.

`translate_response(body, requested_model=..., preset=...)` turns a
non-streaming `chat.completion` object into an Anthropic `Message`:

    reasoning_content / reasoning (or Mistral "thinking" parts) -> thinking block (signature "")
    content (string, or a list of text parts)                   -> text block
    refusal                                                     -> text block, stop_reason "refusal"
    tool_calls (and the legacy function_call)                   -> tool_use blocks (ids kept)
    finish_reason stop/length/tool_calls/function_call/content_filter
                            -> end_turn/max_tokens/tool_use/tool_use/refusal
    usage                   -> input (minus cached), cache read, output tokens

`translate_error(status, body, content_type)` turns whatever an upstream
sent with an error status (OpenAI/Gemini/Mistral JSON, plain text, an HTML
page, nothing) into an Anthropic error envelope and the status to answer with.

The small helpers (`stop_reason_for`, `anthropic_usage`, `message_id`,
`reasoning_text`, `split_content`) are shared with the stream translator.

What is lost: choices after the first; logprobs; the upstream's model name
(the client sees the model it asked for); reasoning signatures, which do not
exist upstream, so thinking blocks carry an empty signature; audio output;
trailing garbage in tool arguments that `tool_arguments` repairs. Broken tool
arguments that cannot be repaired raise UpstreamProtocolError.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from providers.errors import UpstreamProtocolError, error_body, error_type_for_status
from providers.openai.presets import Preset
from providers.openai.tool_arguments import parse_tool_arguments

#: OpenAI finish_reason -> Anthropic stop_reason. Unknown or missing reasons
#: are "end_turn"; the extra keys are spellings some servers use.
STOP_REASON_BY_FINISH_REASON = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
    "eos": "end_turn",
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
}
DEFAULT_STOP_REASON = "end_turn"
#: Longest upstream error message passed on to the client.
ERROR_MESSAGE_MAX_CHARS = 500
#: Anthropic's wording, which Claude Code recognises to offer compaction.
PROMPT_TOO_LONG_PREFIX = "prompt is too long: "

_ANTHROPIC_STATUSES = frozenset({400, 401, 402, 403, 404, 413, 429, 500, 502, 504, 529})
_STATUS_REMAP = {408: 504, 422: 400, 503: 529}
_CONTEXT_OVERFLOW_CODES = frozenset({"context_length_exceeded", "context_window_exceeded"})
_CONTEXT_OVERFLOW_TEXT = re.compile(
    r"context[ _]length|context window|maximum context|prompt is too long|too many tokens|"
    r"reduce the length of the messages|input is too long|exceeds? the (?:model's )?max",
    re.IGNORECASE,
)
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX_ID_CHARS = 64
_HTML_DROP = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]+>")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_WHITESPACE = re.compile(r"\s+")


def translate_response(
    body: Mapping[str, Any], *, requested_model: str, preset: Preset
) -> dict[str, Any]:
    """An Anthropic Message for a non-streaming Chat Completions response."""
    if not isinstance(body, Mapping):
        raise UpstreamProtocolError("upstream response is not a JSON object")
    if body.get("error"):
        raise UpstreamProtocolError(f"upstream returned an error: {error_text(body['error'])}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise UpstreamProtocolError("upstream response has no choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, Mapping):
        raise UpstreamProtocolError("upstream response choice has no message")

    texts, thinking_parts = split_content(message.get("content"))
    reasoning = reasoning_text(message, preset)
    thinking = "".join(([reasoning] if reasoning else []) + thinking_parts)
    content: list[dict[str, Any]] = []
    if thinking:
        content.append({"type": "thinking", "thinking": thinking, "signature": ""})
    text = "".join(texts)
    refusal = message.get("refusal")
    refused = isinstance(refusal, str) and bool(refusal)
    if isinstance(refusal, str) and refusal and not text:
        text = refusal
    if text:
        content.append({"type": "text", "text": text})

    calls = list(message.get("tool_calls") or [])
    legacy = message.get("function_call")
    if isinstance(legacy, Mapping) and not calls:
        calls.append({"function": legacy})
    for call in calls:
        content.append(_tool_use_block(call))

    stop_reason, stop_sequence = stop_reason_for(
        choice.get("finish_reason"),
        has_tool_calls=bool(calls),
        matched_stop=matched_stop_sequence(choice),
        refused=refused,
    )
    return {
        "id": message_id(body.get("id")),
        "type": "message",
        "role": "assistant",
        "model": requested_model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": anthropic_usage(body.get("usage")),
    }


def _tool_use_block(call: Any) -> dict[str, Any]:
    if not isinstance(call, Mapping):
        raise UpstreamProtocolError("upstream tool call is not an object")
    function = call.get("function")
    if not isinstance(function, Mapping):
        raise UpstreamProtocolError("upstream tool call has no function")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise UpstreamProtocolError("upstream tool call has no function name")
    call_id = call.get("id")
    return {
        "type": "tool_use",
        "id": call_id if isinstance(call_id, str) and call_id else new_tool_use_id(),
        "name": name,
        "input": parse_tool_arguments(function.get("arguments"), tool_name=name),
    }


# -- helpers shared with the stream translator ---------------------------------


def message_id(upstream_id: Any) -> str:
    """An Anthropic-style message id derived from the upstream id (or a fresh one)."""
    safe = _ID_UNSAFE.sub("", upstream_id)[:_MAX_ID_CHARS] if isinstance(upstream_id, str) else ""
    return f"msg_{safe or uuid.uuid4().hex}"


def new_tool_use_id() -> str:
    """An id for a tool call the upstream sent without one."""
    return f"toolu_{uuid.uuid4().hex[:24]}"


def reasoning_text(obj: Mapping[str, Any], preset: Preset) -> str:
    """Reasoning text in a message or delta, from the preset's field first."""
    for name in preset.reasoning_fields():
        value = obj.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def split_content(content: Any) -> tuple[list[str], list[str]]:
    """Message/delta content -> (text pieces, thinking pieces).

    Content is usually a string; Mistral's reasoning models send a list of
    parts, where `{"type": "thinking", "thinking": [text parts]}` is reasoning.
    """
    if isinstance(content, str):
        return ([content] if content else []), []
    if not isinstance(content, list):
        return [], []
    texts: list[str] = []
    thinking: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping):
            if part.get("type") == "thinking":
                inner = part.get("thinking")
                if isinstance(inner, str):
                    thinking.append(inner)
                else:
                    thinking.extend(split_content(inner)[0])
            elif isinstance(part.get("text"), str):
                texts.append(part["text"])
    return texts, thinking


def matched_stop_sequence(choice: Mapping[str, Any]) -> str | None:
    """The stop string a server says it matched (vLLM `stop_reason`, SGLang `matched_stop`)."""
    for name in ("stop_reason", "matched_stop"):
        value = choice.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def stop_reason_for(
    finish_reason: Any,
    *,
    has_tool_calls: bool,
    matched_stop: str | None = None,
    refused: bool = False,
) -> tuple[str, str | None]:
    """(stop_reason, stop_sequence) for an OpenAI finish_reason."""
    if has_tool_calls:
        return "tool_use", None
    if refused:
        return "refusal", None
    if finish_reason == "stop" and matched_stop:
        return "stop_sequence", matched_stop
    reason = STOP_REASON_BY_FINISH_REASON.get(finish_reason, DEFAULT_STOP_REASON)
    if reason == "tool_use":  # a server that says tool_calls but sent none
        reason = DEFAULT_STOP_REASON
    return reason, None


def anthropic_usage(usage: Any) -> dict[str, int]:
    """Anthropic usage numbers (never null) from an OpenAI usage object.

    Anthropic counts cached input apart from `input_tokens`; OpenAI includes
    it in `prompt_tokens` and reports it in `prompt_tokens_details` (DeepSeek:
    `prompt_cache_hit_tokens`; OpenRouter also reports cache writes).
    """
    if not isinstance(usage, Mapping):
        usage = {}
    details = usage.get("prompt_tokens_details")
    if not isinstance(details, Mapping):
        details = {}
    prompt = _count(usage.get("prompt_tokens"))
    cached = _count(details.get("cached_tokens")) or _count(usage.get("prompt_cache_hit_tokens"))
    written = _count(details.get("cache_write_tokens"))
    return {
        "input_tokens": max(prompt - cached - written, 0),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "output_tokens": _count(usage.get("completion_tokens")),
    }


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return 0
    return int(value)


# -- errors ------------------------------------------------------------------


def translate_error(status: int, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    """(status, Anthropic error envelope) for an upstream error response."""
    message, code = _error_details(body, content_type)
    message = _shorten(message)
    if not message:
        message = f"upstream returned HTTP {status} with an empty body"
    if 400 <= status < 500 and _is_context_overflow(code, message):
        if not message.lower().startswith(PROMPT_TOO_LONG_PREFIX.strip()):
            message = PROMPT_TOO_LONG_PREFIX + message
        return 400, error_body("invalid_request_error", message)
    answer = _anthropic_status(status)
    return answer, error_body(error_type_for_status(answer), message)


def _anthropic_status(status: int) -> int:
    if status in _ANTHROPIC_STATUSES:
        return status
    if status in _STATUS_REMAP:
        return _STATUS_REMAP[status]
    if 400 <= status < 500:
        return 400
    return 502


def _is_context_overflow(code: str | None, message: str) -> bool:
    return code in _CONTEXT_OVERFLOW_CODES or bool(_CONTEXT_OVERFLOW_TEXT.search(message))


def _error_details(body: bytes, content_type: str) -> tuple[str, str | None]:
    """(message, machine-readable code) from an error body of any shape."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return "", None
    kind = content_type.lower()
    if "json" in kind or text[:1] in ("{", "["):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if data is not None:
            return _json_error_details(data)
    if "html" in kind or text[:1] == "<":
        return _html_text(text), None
    return _WHITESPACE.sub(" ", text), None


def _json_error_details(data: Any) -> tuple[str, str | None]:
    if isinstance(data, list) and data:  # Gemini wraps its error in a list
        data = data[0]
    if not isinstance(data, Mapping):
        return error_text(data), None
    error = data.get("error", data)
    code = None
    if isinstance(error, Mapping):
        raw_code = error.get("code")
        code = raw_code if isinstance(raw_code, str) else None
    return error_text(error), code


def error_text(error: Any) -> str:
    """The human message inside an error value."""
    if isinstance(error, str):
        return error
    if isinstance(error, Mapping):
        for key in ("message", "detail", "error", "msg"):
            if error.get(key):
                return error_text(error[key])
    if isinstance(error, list):  # e.g. FastAPI validation details
        return "; ".join(error_text(item) for item in error)
    if error is None:
        return ""
    return json.dumps(error, ensure_ascii=False, default=str)


def _html_text(page: str) -> str:
    title = _HTML_TITLE.search(page)
    if title and title.group(1).strip():
        return _WHITESPACE.sub(" ", html.unescape(title.group(1))).strip()
    stripped = _HTML_TAG.sub(" ", _HTML_DROP.sub(" ", page))
    return _WHITESPACE.sub(" ", html.unescape(stripped)).strip()


def _shorten(message: str) -> str:
    message = message.strip()
    if len(message) > ERROR_MESSAGE_MAX_CHARS:
        return message[: ERROR_MESSAGE_MAX_CHARS - 3].rstrip() + "..."
    return message
