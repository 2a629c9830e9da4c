"""Translate an Anthropic Messages request into an OpenAI Chat Completions request.

`translate_request(body, target_model=..., preset=...)` takes the parsed JSON
body a client sent to `POST /v1/messages` and returns the Chat Completions
body for the provider described by `preset`, plus notes naming what was
dropped. Pure: no I/O, input never mutated.

Converted:
    system (string or text blocks)     -> leading system message
    role "system" entries in messages  -> system messages in place
    text / image blocks                -> content parts (a plain string when only text)
    assistant tool_use                 -> tool_calls (same ids; arguments as compact JSON)
    tool_result                        -> role "tool" messages, first in their turn
    tools / tool_choice                -> functions / auto|required|named|none
    stop_sequences, max_tokens, temperature, top_p, metadata.user_id, stream
    thinking / output_config.effort    -> reasoning effort (low/medium/high)
    output_config.format json_schema   -> response_format json_schema

Rejected with InvalidRequest (a 400 naming the place), never dropped:
    document, search_result and server-tool result blocks; image blocks for
    a provider without images (or URL images for one that takes only data);
    images from the Files API; server tools (web_search_*, bash_*, ...);
    `mcp_servers`; structured output for a provider without json_schema.

Lost, with a note in `TranslatedRequest.notes`:
    cache_control breakpoints; top_k (unless the preset takes it);
    context_management; thinking signatures and redacted_thinking blocks;
    thinking blocks for providers that take no reasoning back; the Claude Code
    billing line in `system`; tool `input_examples`/`defer_loading`; fields the
    preset does not accept (user, parallel_tool_calls, reasoning effort, and
    temperature/top_p for OpenAI reasoning models); efforts above "high";
    adaptive thinking without an effort (the provider's default applies);
    unknown top-level fields.

Changed in form, nothing lost: `is_error` on a tool result becomes an
"Error: " prefix (tool messages have no error flag); images inside tool
results move to a user message right after the tool messages, labelled with
the call they came from (tool messages carry text only); a `metadata.user_id`
longer than 64 characters is sent as its SHA-256; tool call ids are mapped
for providers with an id format (Mistral), identically in calls and results;
system entries between a tool call and its results move after the results.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from providers.errors import InvalidRequest
from providers.openai.presets import Preset
from providers.openai.schema_clean import SchemaError, clean_tool_schema

#: Claude Code puts this line first in `system`; it is billing metadata, not an
#: instruction, and its per-request values would defeat prompt caching.
BILLING_HEADER_PREFIX = "x-anthropic-billing-header:"
#: Separator used when several text blocks become one string.
TEXT_JOINER = "\n\n"
#: Prefix of a tool message made from a tool_result with `is_error: true`.
TOOL_ERROR_PREFIX = "Error: "
#: Largest `thinking.budget_tokens` still mapped to "low", then "medium";
#: anything above is "high". Claude Code's "think" (4,000) is low, "think
#: hard" (10,000) medium, "ultrathink" (31,999) high.
LOW_EFFORT_MAX_BUDGET = 4096
MEDIUM_EFFORT_MAX_BUDGET = 16384
#: Anthropic efforts above "high" have no portable Chat Completions value.
EFFORT_BY_ANTHROPIC_EFFORT = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}
#: Longer `user` values (Claude Code sends a JSON document) are replaced by
#: their SHA-256 hex digest, which is stable and within every provider's limit.
USER_FIELD_MAX_CHARS = 64
#: Chat Completions requires a name for a json_schema response format.
STRUCTURED_OUTPUT_NAME = "response"

# Block types the Messages API defines that this translation cannot carry.
_UNTRANSLATABLE_BLOCKS = frozenset(
    {
        "document",
        "search_result",
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "container_upload",
        "mcp_tool_use",
        "mcp_tool_result",
        "tool_reference",
        "browser_state",
        "compaction",
    }
)
# Top-level fields dropped with a note, and why.
_DROPPED_FIELDS = {
    "context_management": "context_management dropped: OpenAI-format providers do not edit context",
    "service_tier": "service_tier dropped: Anthropic-only",
    "inference_geo": "inference_geo dropped: Anthropic-only",
    "speed": "speed dropped: Anthropic-only",
    "container": "container dropped: code execution containers are Anthropic-only",
    "diagnostics": "diagnostics dropped: Anthropic-only",
}
_HANDLED_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "stop_sequences",
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "thinking",
        "tools",
        "tool_choice",
        "stream",
        "output_config",
        "output_format",
        "cache_control",
        "mcp_servers",
    }
)
_SCHEMA_MAP_KEYS = frozenset({"properties", "$defs", "definitions"})
_SCHEMA_LIST_KEYS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_ALNUM = string.ascii_letters + string.digits
_ALNUM9 = re.compile(r"[A-Za-z0-9]{9}")
_TRANSLATED_TOOL_KEYS = frozenset(
    {"name", "description", "input_schema", "type", "strict", "cache_control"}
)


@dataclass(frozen=True)
class TranslatedRequest:
    """The Chat Completions body, and one sentence per thing that was dropped."""

    body: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def translate_request(
    body: Mapping[str, Any], *, target_model: str, preset: Preset
) -> TranslatedRequest:
    """Translate an Anthropic Messages request body for an OpenAI-format provider.

    Raises InvalidRequest, naming the offending place, for anything that
    cannot be carried over without losing content.
    """
    if not isinstance(body, Mapping):
        raise InvalidRequest("request body must be a JSON object")
    builder = _RequestBuilder(preset)
    return TranslatedRequest(body=builder.build(body, target_model), notes=builder.notes)


def outgoing_tool_call_id(tool_use_id: str, preset: Preset) -> str:
    """The id a tool call gets upstream; the same for a call and its result."""
    if preset.tool_call_id_style == "alnum9" and not _ALNUM9.fullmatch(tool_use_id):
        number = int.from_bytes(hashlib.sha256(tool_use_id.encode()).digest()[:8], "big")
        chars = []
        for _ in range(9):
            number, digit = divmod(number, len(_ALNUM))
            chars.append(_ALNUM[digit])
        return "".join(chars)
    return tool_use_id


def effort_for_budget(budget_tokens: int) -> str:
    """The reasoning effort that best matches an Anthropic thinking budget."""
    if budget_tokens <= LOW_EFFORT_MAX_BUDGET:
        return "low"
    if budget_tokens <= MEDIUM_EFFORT_MAX_BUDGET:
        return "medium"
    return "high"


class _RequestBuilder:
    """Holds the preset and the notes while one request is translated."""

    def __init__(self, preset: Preset) -> None:
        self.preset = preset
        self.notes: list[str] = []
        self.saw_cache_control = False

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # -- whole request -------------------------------------------------

    def build(self, body: Mapping[str, Any], target_model: str) -> dict[str, Any]:
        preset = self.preset
        out: dict[str, Any] = {"model": target_model}
        self.saw_cache_control = "cache_control" in body

        mcp_servers = body.get("mcp_servers")
        if mcp_servers:
            raise InvalidRequest(
                "mcp_servers: the MCP connector cannot be used with an OpenAI-format provider"
            )

        messages: list[dict[str, Any]] = []
        if "system" in body and body["system"] is not None:
            system = self.system_text(body["system"], "system")
            if system:
                messages.append({"role": "system", "content": system})
        messages.extend(self.messages(body.get("messages")))
        out["messages"] = messages

        tools = self.tools(body.get("tools"))
        if tools:
            out["tools"] = tools
        self.tool_choice(body.get("tool_choice"), tools, out)

        max_tokens = body.get("max_tokens")
        if max_tokens is not None:
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
                raise InvalidRequest("max_tokens: must be a positive integer")
            cap = preset.max_tokens_cap
            if cap is not None and max_tokens > cap:
                self.note(f"max_tokens {max_tokens} capped to {cap}, the {preset.label} limit")
                max_tokens = cap
            out[preset.max_tokens_field] = max_tokens

        for name in ("temperature", "top_p"):
            value = body.get(name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise InvalidRequest(f"{name}: must be a number")
                if preset.reasoning_models_reject_sampling and preset.is_reasoning_model(
                    target_model
                ):
                    self.note(f"{name} dropped: {target_model} takes no sampling parameters")
                    continue
                out[name] = value
        if body.get("top_k") is not None:
            if preset.supports_top_k:
                out["top_k"] = body["top_k"]
            else:
                self.note("top_k dropped: Chat Completions has no top_k")

        stop = body.get("stop_sequences")
        if stop:
            if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
                raise InvalidRequest("stop_sequences: must be a list of strings")
            out["stop"] = list(stop)

        if body.get("stream") is True:
            out["stream"] = True
            if preset.supports_stream_usage:
                out["stream_options"] = {"include_usage": True}

        self.user(body.get("metadata"), out)
        self.reasoning(body.get("thinking"), body.get("output_config"), target_model, out)
        self.output_format(body, out)

        for name, why in _DROPPED_FIELDS.items():
            if body.get(name) is not None:
                self.note(why)
        for name in body:
            if name not in _HANDLED_FIELDS and name not in _DROPPED_FIELDS:
                self.note(f"{name} dropped: not supported by the OpenAI translation")
        if self.saw_cache_control:
            self.note(
                "cache_control removed: OpenAI-format providers cache prompts on their own terms"
            )
        return out

    # -- system ----------------------------------------------------------

    def system_text(self, system: Any, path: str) -> str:
        """A system prompt (string or text blocks) as one string."""
        if isinstance(system, str):
            return system
        if not isinstance(system, list):
            raise InvalidRequest(f"{path}: must be a string or a list of text blocks")
        texts = []
        for k, block in enumerate(system):
            block_path = f"{path}.{k}"
            kind = _block_type(block, block_path)
            if kind != "text":
                raise InvalidRequest(
                    f'{block_path}: "{kind}" blocks cannot be part of a system prompt'
                )
            self.check_cache_control(block)
            text = _text_of(block, block_path)
            if text.startswith(BILLING_HEADER_PREFIX):
                self.note("Claude Code billing header removed from the system prompt")
                continue
            texts.append(text)
        return TEXT_JOINER.join(texts)

    # -- messages --------------------------------------------------------

    def messages(self, messages: Any) -> list[dict[str, Any]]:
        if not isinstance(messages, list):
            raise InvalidRequest("messages: must be a list")
        if not messages:
            raise InvalidRequest("messages: at least one message is required")
        out: list[dict[str, Any]] = []
        # Calls of the last assistant turn still waiting for their results:
        # anthropic id -> tool name.
        pending: dict[str, str] = {}
        pending_path = ""
        # System entries met between a tool call and its results; OpenAI needs
        # the tool messages right after the call, so these follow them.
        deferred: list[dict[str, Any]] = []
        for i, message in enumerate(messages):
            path = f"messages.{i}"
            if not isinstance(message, Mapping):
                raise InvalidRequest(f"{path}: must be an object")
            role = message.get("role")
            content = message.get("content")
            if role == "system":
                text = self.system_text(content, f"{path}.content")
                if text:
                    (deferred if pending else out).append({"role": "system", "content": text})
                continue
            if pending and role != "user":
                raise InvalidRequest(
                    f"{path}: the tool_use blocks of {pending_path} must be answered by "
                    "tool_result blocks in the next user message"
                )
            if role == "user":
                tool_messages, user_message = self.user_message(
                    content, path, pending, pending_path
                )
                out.extend(tool_messages)
                out.extend(deferred)
                deferred = []
                if user_message is not None:
                    out.append(user_message)
                pending = {}
            elif role == "assistant":
                assistant, pending = self.assistant_message(content, path)
                pending_path = path
                out.append(assistant)
            else:
                raise InvalidRequest(f'{path}.role: unknown role "{role}"')
        out.extend(deferred)
        return out

    def user_message(
        self, content: Any, path: str, pending: dict[str, str], pending_path: str
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One Anthropic user turn -> tool messages, then at most one user message."""
        if isinstance(content, str):
            if pending:
                raise InvalidRequest(
                    f"{path}.content: expected tool_result blocks for the tool_use blocks "
                    f"of {pending_path}"
                )
            return [], {"role": "user", "content": content}
        if not isinstance(content, list):
            raise InvalidRequest(f"{path}.content: must be a string or a list of blocks")

        tool_messages: list[dict[str, Any]] = []
        result_parts: list[dict[str, Any]] = []  # images carried out of tool results
        parts: list[dict[str, Any]] = []
        answered: set[str] = set()
        for k, block in enumerate(content):
            block_path = f"{path}.content.{k}"
            kind = _block_type(block, block_path)
            self.check_cache_control(block)
            if kind == "text":
                parts.append({"type": "text", "text": _text_of(block, block_path)})
            elif kind == "image":
                parts.append(self.image_part(block, block_path))
            elif kind == "tool_result":
                tool_id = block.get("tool_use_id")
                if not isinstance(tool_id, str) or tool_id not in pending:
                    raise InvalidRequest(
                        f'{block_path}: tool_result for tool_use_id "{tool_id}" does not answer a '
                        "tool_use of the previous assistant message"
                    )
                if tool_id in answered:
                    raise InvalidRequest(
                        f'{block_path}: a second tool_result for tool_use_id "{tool_id}"'
                    )
                answered.add(tool_id)
                message, images = self.tool_result(block, block_path, pending[tool_id])
                tool_messages.append(message)
                if images:
                    result_parts.append(
                        {
                            "type": "text",
                            "text": f"Images returned by the {pending[tool_id]} tool call "
                            f"{message['tool_call_id']}:",
                        }
                    )
                    result_parts.extend(images)
            elif kind in ("thinking", "redacted_thinking", "tool_use"):
                raise InvalidRequest(
                    f"{block_path}: {kind} blocks are only valid in assistant messages"
                )
            else:
                raise InvalidRequest(_untranslatable(kind, block_path))

        missing = [tool_id for tool_id in pending if tool_id not in answered]
        if missing:
            raise InvalidRequest(
                f"{path}: tool_use ids {', '.join(missing)} of {pending_path} have no tool_result "
                "in this message"
            )
        all_parts = result_parts + parts
        if not all_parts:
            if tool_messages:
                return tool_messages, None
            return [], {"role": "user", "content": ""}
        return tool_messages, {"role": "user", "content": _content_value(all_parts)}

    def tool_result(
        self, block: Mapping[str, Any], path: str, tool_name: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A tool_result -> (tool message, image parts that must travel separately)."""
        content = block.get("content")
        texts: list[str] = []
        images: list[dict[str, Any]] = []
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for k, part in enumerate(content):
                part_path = f"{path}.content.{k}"
                kind = _block_type(part, part_path)
                self.check_cache_control(part)
                if kind == "text":
                    texts.append(_text_of(part, part_path))
                elif kind == "image":
                    images.append(self.image_part(part, part_path))
                else:
                    raise InvalidRequest(_untranslatable(kind, part_path))
        elif content is not None:
            raise InvalidRequest(f"{path}.content: must be a string or a list of blocks")

        text = TEXT_JOINER.join(texts)
        if images:
            count = len(images)
            plural = "s" if count > 1 else ""
            pointer = f"[{count} image{plural} from this result follow in the next user message]"
            text = f"{text}\n{pointer}" if text else pointer
        if block.get("is_error") is True:
            text = TOOL_ERROR_PREFIX + text
        tool_id = outgoing_tool_call_id(block["tool_use_id"], self.preset)
        return {"role": "tool", "tool_call_id": tool_id, "content": text}, images

    def assistant_message(self, content: Any, path: str) -> tuple[dict[str, Any], dict[str, str]]:
        """One assistant turn -> assistant message, and its calls (id -> name)."""
        if isinstance(content, str):
            return {"role": "assistant", "content": content}, {}
        if not isinstance(content, list):
            raise InvalidRequest(f"{path}.content: must be a string or a list of blocks")
        texts: list[str] = []
        reasoning: list[str] = []
        calls: list[dict[str, Any]] = []
        names: dict[str, str] = {}
        for k, block in enumerate(content):
            block_path = f"{path}.content.{k}"
            kind = _block_type(block, block_path)
            self.check_cache_control(block)
            if kind == "text":
                texts.append(_text_of(block, block_path))
            elif kind == "tool_use":
                call, tool_id, name = self.tool_call(block, block_path)
                if tool_id in names:
                    raise InvalidRequest(f'{block_path}: tool_use id "{tool_id}" is used twice')
                names[tool_id] = name
                calls.append(call)
            elif kind == "thinking":
                thinking = block.get("thinking")
                if not isinstance(thinking, str):
                    raise InvalidRequest(f"{block_path}.thinking: must be a string")
                if self.preset.send_reasoning_back == "reasoning_content":
                    reasoning.append(thinking)
                    if block.get("signature"):
                        self.note("thinking signatures dropped: other providers cannot verify them")
                else:
                    self.note(
                        "thinking blocks dropped from assistant turns: "
                        f"{self.preset.label} takes no reasoning back"
                    )
            elif kind == "redacted_thinking":
                self.note("redacted_thinking blocks dropped: only Anthropic can read them")
            elif kind == "image":
                raise InvalidRequest(f"{block_path}: image blocks are only valid in user messages")
            elif kind == "tool_result":
                raise InvalidRequest(
                    f"{block_path}: tool_result blocks are only valid in user messages"
                )
            else:
                raise InvalidRequest(_untranslatable(kind, block_path))

        message: dict[str, Any] = {"role": "assistant"}
        text = TEXT_JOINER.join(texts)
        message["content"] = text if text or not calls else None
        if reasoning:
            message["reasoning_content"] = TEXT_JOINER.join(reasoning)
        if calls:
            message["tool_calls"] = calls
        return message, names

    def tool_call(self, block: Mapping[str, Any], path: str) -> tuple[dict[str, Any], str, str]:
        tool_id = block.get("id")
        name = block.get("name")
        arguments = block.get("input", {})
        if not isinstance(tool_id, str) or not tool_id:
            raise InvalidRequest(f"{path}.id: must be a non-empty string")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"{path}.name: must be a non-empty string")
        if not isinstance(arguments, Mapping):
            raise InvalidRequest(f"{path}.input: must be an object")
        call: dict[str, Any] = {
            "id": outgoing_tool_call_id(tool_id, self.preset),
            "type": "function",
            "function": {"name": name, "arguments": orjson.dumps(arguments).decode()},
        }
        placeholder = self.preset.tool_call_signature_placeholder
        if placeholder:
            call["extra_content"] = {"google": {"thought_signature": placeholder}}
        return call, tool_id, name

    def image_part(self, block: Mapping[str, Any], path: str) -> dict[str, Any]:
        preset = self.preset
        if not preset.supports_images:
            raise InvalidRequest(
                f"{path}: image blocks cannot be sent to {preset.label} (it takes no images)"
            )
        source = block.get("source")
        if not isinstance(source, Mapping):
            raise InvalidRequest(f"{path}.source: must be an object")
        kind = source.get("type")
        if kind == "base64":
            media_type, data = source.get("media_type"), source.get("data")
            if not isinstance(media_type, str) or not isinstance(data, str):
                raise InvalidRequest(
                    f"{path}.source: base64 images need media_type and data strings"
                )
            url = f"data:{media_type};base64,{data}"
        elif kind == "url":
            source_url = source.get("url")
            if not isinstance(source_url, str):
                raise InvalidRequest(f"{path}.source.url: must be a string")
            url = source_url
            if not preset.supports_image_urls:
                raise InvalidRequest(
                    f"{path}: image URLs cannot be sent to {preset.label} "
                    "(it takes base64 images only)"
                )
        elif kind == "file":
            raise InvalidRequest(
                f"{path}: images from the Files API cannot be sent to an OpenAI-format provider"
            )
        else:
            raise InvalidRequest(f'{path}.source.type: unknown image source "{kind}"')
        return {"type": "image_url", "image_url": {"url": url}}

    def check_cache_control(self, block: Mapping[str, Any]) -> None:
        if "cache_control" in block:
            self.saw_cache_control = True

    # -- tools -------------------------------------------------------------

    def tools(self, tools: Any) -> list[dict[str, Any]]:
        if tools is None:
            return []
        if not isinstance(tools, list):
            raise InvalidRequest("tools: must be a list")
        out = []
        for i, tool in enumerate(tools):
            path = f"tools.{i}"
            if not isinstance(tool, Mapping):
                raise InvalidRequest(f"{path}: must be an object")
            name = tool.get("name")
            kind = tool.get("type")
            if kind not in (None, "custom"):
                raise InvalidRequest(
                    f'{path}: server tool "{name}" (type {kind}) cannot be run by an '
                    "OpenAI-format provider"
                )
            if not isinstance(name, str) or not name:
                raise InvalidRequest(f"{path}.name: must be a non-empty string")
            schema = tool.get("input_schema")
            if not isinstance(schema, Mapping):
                raise InvalidRequest(f'{path}: tool "{name}" has no input_schema object')
            try:
                parameters = clean_tool_schema(schema, self.preset.schema_dialect)
            except SchemaError as exc:
                raise InvalidRequest(f"{path}.input_schema: {exc}") from None
            function: dict[str, Any] = {"name": name}
            description = tool.get("description")
            if isinstance(description, str) and description:
                function["description"] = description
            function["parameters"] = parameters
            if tool.get("strict") is True:
                if self.preset.schema_dialect == "full":
                    function["strict"] = True
                else:
                    self.note(
                        f"strict dropped from tools: {self.preset.label} has no strict tool schemas"
                    )
            self.check_cache_control(tool)
            for key in tool:
                if key not in _TRANSLATED_TOOL_KEYS:
                    self.note(f"tools.{key} dropped: Anthropic-only tool option")
            out.append({"type": "function", "function": function})
        return out

    def tool_choice(self, choice: Any, tools: list[dict[str, Any]], out: dict[str, Any]) -> None:
        if choice is None:
            return
        if not isinstance(choice, Mapping):
            raise InvalidRequest("tool_choice: must be an object")
        kind = choice.get("type")
        if kind not in ("auto", "any", "tool", "none"):
            raise InvalidRequest(f'tool_choice.type: unknown tool_choice "{kind}"')
        if not tools:
            if kind not in ("auto", "none"):
                raise InvalidRequest(f'tool_choice: "{kind}" needs at least one tool')
            return
        if kind == "auto":
            out["tool_choice"] = "auto"
        elif kind == "any":
            out["tool_choice"] = "required"
        elif kind == "none":
            out["tool_choice"] = "none"
        else:
            name = choice.get("name")
            if name not in {tool["function"]["name"] for tool in tools}:
                raise InvalidRequest(f'tool_choice.name: no tool named "{name}"')
            out["tool_choice"] = {"type": "function", "function": {"name": name}}
        if choice.get("disable_parallel_tool_use") is True and kind != "none":
            if self.preset.supports_parallel_tool_calls_flag:
                out["parallel_tool_calls"] = False
            else:
                self.note(
                    "disable_parallel_tool_use dropped: "
                    f"{self.preset.label} has no parallel_tool_calls flag"
                )

    # -- options -------------------------------------------------------------

    def user(self, metadata: Any, out: dict[str, Any]) -> None:
        if not isinstance(metadata, Mapping):
            return
        user_id = metadata.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            return
        if not self.preset.supports_user_field:
            self.note(f"metadata.user_id dropped: {self.preset.label} has no user field")
            return
        if len(user_id) > USER_FIELD_MAX_CHARS:
            user_id = hashlib.sha256(user_id.encode()).hexdigest()
        out["user"] = user_id

    def reasoning(
        self, thinking: Any, output_config: Any, target_model: str, out: dict[str, Any]
    ) -> None:
        kind = thinking.get("type") if isinstance(thinking, Mapping) else None
        requested = output_config.get("effort") if isinstance(output_config, Mapping) else None
        effort: str | None = None
        if kind == "disabled":
            if requested:
                self.note("output_config.effort dropped: thinking is disabled")
            return
        if requested is not None:
            if requested not in EFFORT_BY_ANTHROPIC_EFFORT:
                raise InvalidRequest(f'output_config.effort: unknown effort "{requested}"')
            effort = EFFORT_BY_ANTHROPIC_EFFORT[requested]
            if effort != requested:
                self.note(f'output_config.effort "{requested}" sent as "{effort}"')
        elif kind == "enabled":
            budget = thinking.get("budget_tokens")
            if isinstance(budget, bool) or not isinstance(budget, int):
                raise InvalidRequest("thinking.budget_tokens: must be an integer")
            effort = effort_for_budget(budget)
        elif kind == "adaptive":
            self.note(
                "adaptive thinking sent without reasoning effort: the provider's default applies"
            )
        if effort is None:
            return
        if not self.preset.supports_reasoning_effort:
            self.note(f"thinking dropped: {self.preset.label} takes no reasoning effort")
            return
        if not self.preset.is_reasoning_model(target_model):
            self.note(f"thinking dropped: {target_model} takes no reasoning effort")
            return
        if self.preset.reasoning_effort_style == "reasoning_object":
            out["reasoning"] = {"effort": effort}
        else:
            out["reasoning_effort"] = effort

    def output_format(self, body: Mapping[str, Any], out: dict[str, Any]) -> None:
        output_config = body.get("output_config")
        path = "output_config.format"
        fmt = output_config.get("format") if isinstance(output_config, Mapping) else None
        if fmt is None and body.get("output_format") is not None:  # the older beta field
            fmt, path = body["output_format"], "output_format"
        if isinstance(output_config, Mapping):
            for key in output_config:
                if key not in ("effort", "format"):
                    self.note(
                        f"output_config.{key} dropped: not supported by the OpenAI translation"
                    )
        if fmt is None:
            return
        if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema":
            raise InvalidRequest(f'{path}.type: only "json_schema" output formats exist')
        if not self.preset.supports_response_format_json_schema:
            raise InvalidRequest(
                f"{path}: {self.preset.label} cannot return JSON-schema structured output"
            )
        schema = fmt.get("schema")
        if not isinstance(schema, Mapping):
            raise InvalidRequest(f"{path}.schema: must be an object")
        try:
            cleaned = clean_tool_schema(schema, self.preset.schema_dialect)
        except SchemaError as exc:
            raise InvalidRequest(f"{path}.schema: {exc}") from None
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": STRUCTURED_OUTPUT_NAME,
                "schema": cleaned,
                "strict": _strict_compatible(cleaned),
            },
        }


def _block_type(block: Any, path: str) -> str:
    if not isinstance(block, Mapping):
        raise InvalidRequest(f"{path}: must be an object")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest(f"{path}.type: must be a string")
    return kind


def _text_of(block: Mapping[str, Any], path: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise InvalidRequest(f"{path}.text: must be a string")
    return text


def _untranslatable(kind: str, path: str) -> str:
    if kind in _UNTRANSLATABLE_BLOCKS:
        return f"{path}: {kind} blocks cannot be sent to an OpenAI-format provider"
    return f'{path}: unknown block type "{kind}"'


def _content_value(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Plain string content when every part is text, else the parts."""
    if all(part["type"] == "text" for part in parts):
        return TEXT_JOINER.join(part["text"] for part in parts)
    return parts


def _strict_compatible(schema: Any) -> bool:
    """Whether OpenAI's strict mode accepts the schema: every object closed and fully required."""
    if not isinstance(schema, Mapping):
        return True
    properties = schema.get("properties")
    if schema.get("type") == "object" or isinstance(properties, Mapping):
        if schema.get("additionalProperties") is not False:
            return False
        if isinstance(properties, Mapping) and set(schema.get("required", [])) != set(properties):
            return False
    for key, value in schema.items():
        if key in _SCHEMA_MAP_KEYS and isinstance(value, Mapping):
            children: list[Any] = list(value.values())
        elif key in _SCHEMA_LIST_KEYS and isinstance(value, list):
            children = value
        elif key == "items":
            children = [value]
        else:
            continue
        if not all(_strict_compatible(child) for child in children):
            return False
    return True
