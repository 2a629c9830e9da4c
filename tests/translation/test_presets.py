"""Provider presets are data; check the records the brief names."""

from __future__ import annotations

import dataclasses

import pytest

from providers.openai.presets import PRESETS, get_preset


def test_it_has_every_named_preset():
    assert set(PRESETS) == {
        "openai",
        "gemini",
        "openrouter",
        "deepseek",
        "groq",
        "mistral",
        "ollama",
        "lmstudio",
        "vllm",
        "generic",
    }
    for name, preset in PRESETS.items():
        assert preset.name == name


@pytest.mark.parametrize(
    ("name", "base_url"),
    [
        ("gemini", "https://generativelanguage.googleapis.com/v1beta/openai/"),
        ("openrouter", "https://openrouter.ai/api/v1"),
        ("deepseek", "https://api.deepseek.com"),
        ("groq", "https://api.groq.com/openai/v1"),
        ("mistral", "https://api.mistral.ai/v1"),
        ("ollama", "http://localhost:11434/v1"),
        ("lmstudio", "http://localhost:1234/v1"),
        ("vllm", "http://localhost:8000/v1"),
    ],
)
def test_it_knows_each_providers_base_url(name, base_url):
    assert PRESETS[name].default_base_url == base_url


def test_deepseek_caps_output_and_replays_reasoning_content():
    deepseek = PRESETS["deepseek"]
    assert deepseek.max_tokens_cap == 8192
    assert deepseek.reasoning_field_in == "reasoning_content"
    assert deepseek.send_reasoning_back == "reasoning_content"


def test_presets_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["openai"].max_tokens_cap = 1  # type: ignore[misc]


def test_it_reads_the_preferred_reasoning_field_first():
    assert PRESETS["groq"].reasoning_fields() == ("reasoning", "reasoning_content")
    assert PRESETS["deepseek"].reasoning_fields() == ("reasoning_content", "reasoning")


def test_get_preset_defaults_to_generic_and_rejects_unknown_names():
    assert get_preset(None) is PRESETS["generic"]
    assert get_preset("vllm") is PRESETS["vllm"]
    with pytest.raises(KeyError, match="unknown provider preset"):
        get_preset("nope")


@pytest.mark.parametrize(
    ("preset", "model", "reasons"),
    [
        ("openai", "o4-mini", True),
        ("openai", "gpt-5.1", True),
        ("openai", "GPT-5", True),
        ("openai", "gpt-4.1", False),
        ("groq", "openai/gpt-oss-120b", True),
        ("groq", "llama-3.3-70b-versatile", False),
        ("vllm", "anything", True),
        ("mistral", "magistral-medium-latest", False),
    ],
)
def test_it_tells_which_models_take_a_reasoning_effort(preset, model, reasons):
    assert PRESETS[preset].is_reasoning_model(model) is reasons
