"""Quirks of OpenAI-compatible providers, kept as data.

Every OpenAI-compatible server speaks a slightly different dialect of Chat
Completions: which field carries the output limit, whether it reports
reasoning text and under which name, which JSON Schema keywords its tool
declarations accept, which optional request fields it rejects. The
translators (`request_from_anthropic`, `response_to_anthropic`,
`stream_to_anthropic`) never branch on a provider's name; they read one of
the `Preset` records below. Adding a provider means adding a record.

Nothing is converted here, so nothing is lost; what each flag makes the
translators drop is listed in the module that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase as fnmatch
from typing import Literal

MaxTokensField = Literal["max_tokens", "max_completion_tokens"]
ReasoningField = Literal["reasoning_content", "reasoning"]
ReasoningReplay = Literal["reasoning_content", "drop"]
ReasoningEffortStyle = Literal["reasoning_effort", "reasoning_object"]
SchemaDialect = Literal["full", "no_additional_properties", "gemini"]
ToolCallIdStyle = Literal["any", "alnum9"]

#: Gemini 3 rejects a replayed function call without a thought signature; this
#: documented sentinel tells it to skip the check for calls whose real
#: signature was lost in translation (the Anthropic format has no place for it).
GEMINI_SKIP_SIGNATURE = "skip_thought_signature_validator"


@dataclass(frozen=True)
class Preset:
    """What one OpenAI-compatible provider accepts and returns.

    name / label / default_base_url
        Registry key, human label, and the base URL (path included) that a new
        provider of this kind starts with.
    max_tokens_field
        Request field for the output limit. OpenAI deprecated `max_tokens`
        (its reasoning models reject it); most other servers only know it.
    max_tokens_cap
        Largest output limit the provider accepts; larger requests are capped
        (with a note) instead of failing upstream.
    supports_reasoning_effort / reasoning_effort_style
        Whether Anthropic `thinking` / `output_config.effort` may be sent, and
        how: a top-level `reasoning_effort` string or OpenRouter's
        `reasoning: {"effort": ...}` object.
    reasoning_models / reasoning_models_reject_sampling
        Glob patterns of the target models that take a reasoning effort (empty:
        all of them; OpenAI's gpt-4.1 answers 400 to one), and whether those
        models reject `temperature` / `top_p` (OpenAI's o-series and gpt-5 do).
    reasoning_field_in
        Field of responses and stream deltas that carries reasoning text. The
        other known name is still read when this one is absent (servers moved
        between them); None means the provider reports no reasoning.
    send_reasoning_back
        How thinking blocks in assistant turns are replayed: as the
        `reasoning_content` message field (DeepSeek requires it after tool
        calls), or dropped (with a note).
    supports_images / supports_image_urls
        Whether image parts are accepted at all, and whether an `http(s)` URL
        is (local servers often take only base64 data URLs).
    supports_stream_usage
        Whether `stream_options: {"include_usage": true}` may be sent.
    supports_parallel_tool_calls_flag
        Whether the `parallel_tool_calls` request field is accepted.
    schema_dialect
        How tool parameter schemas are cleaned (`schema_clean.py`).
    supports_response_format_json_schema
        Whether `response_format: {"type": "json_schema"}` is accepted.
    supports_user_field
        Whether the `user` request field is accepted.
    supports_top_k
        Whether the non-standard `top_k` sampling field is accepted.
    tool_call_id_style
        "alnum9": ids must be exactly 9 ASCII letters/digits (Mistral); other
        ids are mapped to such ids, the same way in calls and results.
    tool_call_signature_placeholder
        Sent as `extra_content.google.thought_signature` on every replayed tool
        call (Gemini 3 needs one on each); None sends nothing.
    """

    name: str
    label: str
    default_base_url: str
    max_tokens_field: MaxTokensField = "max_tokens"
    max_tokens_cap: int | None = None
    supports_reasoning_effort: bool = False
    reasoning_effort_style: ReasoningEffortStyle = "reasoning_effort"
    reasoning_models: tuple[str, ...] = ()
    reasoning_models_reject_sampling: bool = False
    reasoning_field_in: ReasoningField | None = None
    send_reasoning_back: ReasoningReplay = "drop"
    supports_images: bool = True
    supports_image_urls: bool = True
    supports_stream_usage: bool = True
    supports_parallel_tool_calls_flag: bool = True
    schema_dialect: SchemaDialect = "full"
    supports_response_format_json_schema: bool = True
    supports_user_field: bool = True
    supports_top_k: bool = False
    tool_call_id_style: ToolCallIdStyle = "any"
    tool_call_signature_placeholder: str | None = None

    def is_reasoning_model(self, model: str) -> bool:
        """Whether `model` takes a reasoning effort at this provider."""
        if not self.supports_reasoning_effort:
            return False
        name = model.lower()
        return not self.reasoning_models or any(fnmatch(name, p) for p in self.reasoning_models)

    def reasoning_fields(self) -> tuple[ReasoningField, ...]:
        """Response fields to read reasoning text from, preferred first."""
        if self.reasoning_field_in == "reasoning":
            return ("reasoning", "reasoning_content")
        return ("reasoning_content", "reasoning")


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="openai",
            label="OpenAI",
            default_base_url="https://api.openai.com/v1",
            max_tokens_field="max_completion_tokens",
            supports_reasoning_effort=True,
            reasoning_models=("o1*", "o3*", "o4*", "gpt-5*", "gpt-oss*"),
            reasoning_models_reject_sampling=True,
        ),
        Preset(
            name="gemini",
            label="Google Gemini (OpenAI compatibility)",
            default_base_url="https://generativelanguage.googleapis.com/v1beta/openai/",
            supports_reasoning_effort=True,
            supports_parallel_tool_calls_flag=False,
            schema_dialect="gemini",
            supports_user_field=False,
            tool_call_signature_placeholder=GEMINI_SKIP_SIGNATURE,
        ),
        Preset(
            name="openrouter",
            label="OpenRouter",
            default_base_url="https://openrouter.ai/api/v1",
            supports_reasoning_effort=True,
            reasoning_effort_style="reasoning_object",
            reasoning_field_in="reasoning",
            supports_top_k=True,
        ),
        Preset(
            name="deepseek",
            label="DeepSeek",
            default_base_url="https://api.deepseek.com",
            max_tokens_cap=8192,
            supports_reasoning_effort=True,
            reasoning_field_in="reasoning_content",
            send_reasoning_back="reasoning_content",
            supports_images=False,
            supports_image_urls=False,
            supports_user_field=False,
        ),
        Preset(
            name="groq",
            label="Groq",
            default_base_url="https://api.groq.com/openai/v1",
            max_tokens_field="max_completion_tokens",
            supports_reasoning_effort=True,
            reasoning_models=("openai/gpt-oss*", "qwen/qwen3*"),
            reasoning_field_in="reasoning",
        ),
        Preset(
            name="mistral",
            label="Mistral AI",
            default_base_url="https://api.mistral.ai/v1",
            supports_stream_usage=False,
            supports_user_field=False,
            tool_call_id_style="alnum9",
        ),
        Preset(
            name="ollama",
            label="Ollama",
            default_base_url="http://localhost:11434/v1",
            supports_reasoning_effort=True,
            reasoning_field_in="reasoning",
            supports_image_urls=False,
            supports_parallel_tool_calls_flag=False,
            supports_user_field=False,
        ),
        Preset(
            name="lmstudio",
            label="LM Studio",
            default_base_url="http://localhost:1234/v1",
            reasoning_field_in="reasoning_content",
            supports_image_urls=False,
            supports_parallel_tool_calls_flag=False,
            supports_user_field=False,
        ),
        Preset(
            name="vllm",
            label="vLLM",
            default_base_url="http://localhost:8000/v1",
            supports_reasoning_effort=True,
            reasoning_field_in="reasoning_content",
            supports_top_k=True,
        ),
        Preset(
            name="generic",
            label="Other OpenAI-compatible server",
            default_base_url="http://localhost:8080/v1",
            supports_reasoning_effort=True,
        ),
    )
}

#: The preset used when a provider names none.
DEFAULT_PRESET = "generic"


def get_preset(name: str | None) -> Preset:
    """The preset called `name`, or the permissive generic one when unset."""
    if not name:
        return PRESETS[DEFAULT_PRESET]
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise KeyError(f"unknown provider preset {name!r} (known: {known})") from None
