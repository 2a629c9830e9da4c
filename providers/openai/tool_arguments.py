"""Turn OpenAI tool-call `arguments` strings into Anthropic tool `input` objects.

OpenAI sends a tool call's arguments as a JSON *string* the model wrote, and
models do not always write valid JSON. Anthropic's `tool_use.input` must be a
JSON object. Trivial damage is repaired, everything else is an
`UpstreamProtocolError` (never replaced by `{}` behind the client's back):

- empty or whitespace-only -> `{}` (how many servers send "no arguments");
- a Markdown code fence around the JSON -> the JSON inside;
- trailing garbage after a complete object (`{"a":1}}`, `{"a":1}<|call|>`)
  -> the object; the garbage is lost;
- missing closing brackets/braces, and a string cut off at the end (output
  stopped by the token limit) -> closed; the cut-off value stays truncated;
- an object encoded twice (a JSON string holding the object) -> the object.

`StreamingJsonObject` applies the same rules to arguments arriving in
fragments, so a stream can forward fragments as they come and still end
with valid JSON.
"""

from __future__ import annotations

import json
from typing import Any

from providers.errors import UpstreamProtocolError

#: How much of a broken arguments string an error message quotes.
ERROR_PREVIEW_CHARS = 200

_DECODER = json.JSONDecoder()
_INVALID = object()
_OPENERS = {"{": "}", "[": "]"}


def parse_tool_arguments(raw: Any, *, tool_name: str) -> dict[str, Any]:
    """The tool input object for an OpenAI `arguments` value (see module doc)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):  # a few servers already send an object
        return raw
    if not isinstance(raw, str):
        raise UpstreamProtocolError(
            f"tool call {tool_name!r}: arguments must be a JSON string, got {type(raw).__name__}"
        )
    value = _loads_lenient(raw)
    if isinstance(value, str):  # encoded twice
        value = _loads_lenient(value)
    if isinstance(value, dict):
        return value
    preview = raw[:ERROR_PREVIEW_CHARS] + ("..." if len(raw) > ERROR_PREVIEW_CHARS else "")
    if value is _INVALID:
        problem = "arguments are not valid JSON"
    else:
        problem = "arguments are not a JSON object"
    raise UpstreamProtocolError(f"tool call {tool_name!r}: {problem}: {preview!r}")


def _loads_lenient(text: str) -> Any:
    text = _strip_code_fence(text.strip())
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:  # a complete value followed by garbage
        value, _end = _DECODER.raw_decode(text)
        return value
    except ValueError:
        pass
    suffix = _closing_suffix(text)
    if suffix:
        try:
            return json.loads(text + suffix)
        except ValueError:
            pass
    return _INVALID


def _strip_code_fence(text: str) -> str:
    if not text.startswith("```"):
        return text
    body = text[3:]
    newline = body.find("\n")
    body = body[newline + 1 :] if newline != -1 else ""
    body = body.rstrip()
    if body.endswith("```"):
        body = body[:-3]
    return body.strip()


def _closing_suffix(text: str) -> str | None:
    """What to append to close every open string, array and object; None if mismatched."""
    stack: list[str] = []
    in_string = escape = False
    for ch in text:
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in _OPENERS:
            stack.append(_OPENERS[ch])
        elif ch in "}]":
            if not stack or stack.pop() != ch:
                return None
    return ('"' if in_string else "") + "".join(reversed(stack))


class StreamingJsonObject:
    """Follows one tool call's arguments as they stream in.

    `feed(fragment)` returns the part of the fragment that may be forwarded
    now: leading whitespace is held back, and anything after the object is
    complete is dropped (trailing garbage). If the arguments do not start
    with `{` (a double-encoded string, say), nothing is forwarded until
    `finish()`, which then sends the whole repaired object at once.
    `finish()` returns the text that completes what was forwarded into one
    valid JSON object (`{}` when nothing came), or None when that is
    impossible (e.g. the text stopped right after a key).
    """

    def __init__(self) -> None:
        self._mode = "waiting"  # -> "object" (forwarding) or "raw" (held back)
        self._stack: list[str] = []
        self._in_string = False
        self._escape = False
        self._forwarded: list[str] = []
        self._held: list[str] = []
        self.complete = False

    @property
    def forwarded(self) -> str:
        """Everything forwarded so far."""
        return "".join(self._forwarded)

    def feed(self, fragment: str) -> str:
        if self.complete or not fragment:
            return ""
        if self._mode == "raw":
            self._held.append(fragment)
            return ""
        start = 0
        if self._mode == "waiting":
            stripped = fragment.lstrip()
            if not stripped:
                return ""
            start = len(fragment) - len(stripped)
            if stripped[0] != "{":
                self._mode = "raw"
                self._held.append(stripped)
                return ""
            self._mode = "object"
        end = self._scan(fragment, start)
        out = fragment[start:end]
        self._forwarded.append(out)
        return out

    def _scan(self, fragment: str, start: int) -> int:
        """Track nesting from `start`; return where forwarding stops."""
        for i in range(start, len(fragment)):
            ch = fragment[i]
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif ch == "\\":
                    self._escape = True
                elif ch == '"':
                    self._in_string = False
            elif ch == '"':
                self._in_string = True
            elif ch in _OPENERS:
                self._stack.append(_OPENERS[ch])
            elif ch in "}]":
                if self._stack:
                    self._stack.pop()
                if not self._stack:
                    self.complete = True
                    return i + 1
        return len(fragment)

    def finish(self, *, tool_name: str) -> str | None:
        if self._mode == "waiting":
            return "{}"
        if self._mode == "raw":
            try:
                value = parse_tool_arguments("".join(self._held), tool_name=tool_name)
            except UpstreamProtocolError:
                return None
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        suffix = (
            ""
            if self.complete
            else ('"' if self._in_string else "") + "".join(reversed(self._stack))
        )
        try:
            value = json.loads(self.forwarded + suffix)
        except ValueError:
            return None
        return suffix if isinstance(value, dict) else None
