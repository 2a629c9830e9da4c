"""Fixtures shared by the translation tests (pure: no Django, no network)."""

from __future__ import annotations

from typing import Any

import pytest

from providers.openai.presets import PRESETS, Preset


@pytest.fixture
def openai() -> Preset:
    """The OpenAI preset: max_completion_tokens, reasoning effort, full schemas."""
    return PRESETS["openai"]


@pytest.fixture
def deepseek() -> Preset:
    """DeepSeek: reasoning_content both ways, an 8192 output cap, no images."""
    return PRESETS["deepseek"]


@pytest.fixture
def gemini() -> Preset:
    """Gemini's OpenAI layer: gemini schema dialect, no user / parallel flags."""
    return PRESETS["gemini"]


@pytest.fixture
def request_body() -> dict[str, Any]:
    """The smallest valid Anthropic request; tests add what they exercise."""
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hello"}],
    }
