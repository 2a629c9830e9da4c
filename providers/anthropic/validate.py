"""Structural checks of a Messages API request, before anything is forwarded.

Only what any target needs is checked here (types and required fields), so a
field Anthropic adds tomorrow still passes through. Each error names where
the problem is, as `messages.3.content.0.type: ...`.
"""

from __future__ import annotations

from typing import Any

import orjson

from providers.errors import InvalidRequest

MESSAGE_ROLES = ("user", "assistant", "system")


def parse_json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise InvalidRequest("request body is empty; expected a JSON object")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidRequest(f"request body must be a JSON object, got {_kind(payload)}")
    return payload


def validate_messages_request(payload: dict[str, Any], *, need_max_tokens: bool = True) -> None:
    """Raise InvalidRequest naming the first problem found."""
    model = payload.get("model")
    if model is None:
        raise InvalidRequest("model: field required")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest(f"model: must be a non-empty string, got {_kind(model)}")
    if need_max_tokens:
        if "max_tokens" not in payload:
            raise InvalidRequest("max_tokens: field required")
        _integer(payload["max_tokens"], "max_tokens", minimum=1)
    if "messages" not in payload:
        raise InvalidRequest("messages: field required")
    messages = payload["messages"]
    if not isinstance(messages, list):
        raise InvalidRequest(f"messages: must be a list, got {_kind(messages)}")
    if not messages:
        raise InvalidRequest("messages: at least one message is required")
    for i, message in enumerate(messages):
        _message(message, f"messages.{i}")
    if "system" in payload:
        _content(payload["system"], "system", allow_none=False)
    _optional(payload, "stream", bool)
    _optional(payload, "metadata", dict)
    _optional(payload, "tool_choice", dict)
    _optional(payload, "thinking", dict)
    for name in ("temperature", "top_p"):
        if name in payload and payload[name] is not None:
            value = payload[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidRequest(f"{name}: must be a number, got {_kind(value)}")
    if "top_k" in payload and payload["top_k"] is not None:
        _integer(payload["top_k"], "top_k", minimum=0)
    if "stop_sequences" in payload:
        stops = payload["stop_sequences"]
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise InvalidRequest("stop_sequences: must be a list of strings")
    if "tools" in payload:
        tools = payload["tools"]
        if not isinstance(tools, list):
            raise InvalidRequest(f"tools: must be a list, got {_kind(tools)}")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise InvalidRequest(f"tools.{i}: must be an object, got {_kind(tool)}")
            if not isinstance(tool.get("name"), str) or not tool["name"]:
                raise InvalidRequest(f"tools.{i}.name: must be a non-empty string")


def _message(message: Any, where: str) -> None:
    if not isinstance(message, dict):
        raise InvalidRequest(f"{where}: must be an object, got {_kind(message)}")
    role = message.get("role")
    if role not in MESSAGE_ROLES:
        raise InvalidRequest(
            f"{where}.role: must be one of {', '.join(MESSAGE_ROLES)}, got {role!r}"
        )
    if "content" not in message:
        raise InvalidRequest(f"{where}.content: field required")
    _content(message["content"], f"{where}.content", allow_none=False)


def _content(content: Any, where: str, *, allow_none: bool) -> None:
    if isinstance(content, str) or (allow_none and content is None):
        return
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}: must be a string or a list of blocks, got {_kind(content)}")
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            raise InvalidRequest(f"{where}.{j}: must be an object, got {_kind(block)}")
        kind = block.get("type")
        if not isinstance(kind, str) or not kind:
            raise InvalidRequest(f"{where}.{j}.type: field required")
        if kind == "text" and not isinstance(block.get("text"), str):
            raise InvalidRequest(f"{where}.{j}.text: must be a string")


def _integer(value: Any, where: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{where}: must be an integer, got {_kind(value)}")
    if value < minimum:
        raise InvalidRequest(f"{where}: must be at least {minimum}, got {value}")


def _optional(payload: dict[str, Any], name: str, kind: type) -> None:
    if name in payload and payload[name] is not None and not isinstance(payload[name], kind):
        expected = {bool: "a boolean", dict: "an object"}.get(kind, kind.__name__)
        raise InvalidRequest(f"{name}: must be {expected}, got {_kind(payload[name])}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {orjson.dumps(value[:40]).decode()}"
    if isinstance(value, int | float):
        return f"number {value}"
    names: dict[type, str] = {dict: "an object", list: "a list"}
    return names.get(type(value), type(value).__name__)
