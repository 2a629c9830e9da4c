"""providers.token_estimate: the local input-token estimate used by rules and count_tokens.

Pure Python: no database, no Django.
"""

from __future__ import annotations

from typing import Any

import pytest

from providers.token_estimate import (
    CHARS_PER_TOKEN,
    TOKENS_PER_DOCUMENT_PAGE_GUESS,
    TOKENS_PER_IMAGE,
    TOKENS_PER_MESSAGE,
    estimate_input_tokens,
)

ENGLISH = (
    "The quick brown fox jumps over the lazy dog while the committee debates "
    "whether the proposal should be sent back for another round of review. "
)
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}}
DOCUMENT = {
    "type": "document",
    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
}
BASH_TOOL = {
    "name": "Bash",
    "description": "Run a shell command and return its output.",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}


def ask(*content: Any, **extra: Any) -> dict[str, Any]:
    """A payload with one user message per content item."""
    return {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": c} for c in content],
        **extra,
    }


def test_it_counts_an_empty_request_as_nothing() -> None:
    assert estimate_input_tokens({}) == 0
    assert estimate_input_tokens({"messages": []}) == 0


def test_it_charges_a_fixed_cost_per_message() -> None:
    assert estimate_input_tokens(ask("")) == TOKENS_PER_MESSAGE
    assert estimate_input_tokens(ask("", "", "")) == 3 * TOKENS_PER_MESSAGE


def test_it_rounds_a_partial_token_up() -> None:
    assert estimate_input_tokens(ask("a")) == TOKENS_PER_MESSAGE + 1
    assert estimate_input_tokens(ask("a" * CHARS_PER_TOKEN)) == TOKENS_PER_MESSAGE + 1
    assert estimate_input_tokens(ask("a" * (CHARS_PER_TOKEN + 1))) == TOKENS_PER_MESSAGE + 2


def test_it_grows_monotonically_with_the_text() -> None:
    estimates = [estimate_input_tokens(ask("x" * n)) for n in range(0, 2_000, 7)]
    assert estimates == sorted(estimates)
    assert estimates[-1] > estimates[0]


@pytest.mark.parametrize("chars", [400, 4_000, 40_000, 400_000])
def test_it_estimates_english_at_about_four_characters_a_token(chars: int) -> None:
    prose = (ENGLISH * (chars // len(ENGLISH) + 1))[:chars]
    tokens = estimate_input_tokens(ask(prose))
    assert chars / 4 * 0.9 <= tokens <= chars / 4 * 1.1 + TOKENS_PER_MESSAGE


def test_it_counts_string_and_block_content_alike() -> None:
    assert estimate_input_tokens(ask("hello world")) == estimate_input_tokens(
        ask([{"type": "text", "text": "hello world"}])
    )


def test_it_counts_the_system_prompt_as_a_string_or_blocks() -> None:
    base = estimate_input_tokens(ask("hi"))
    as_string = estimate_input_tokens(ask("hi", system="s" * 400))
    as_blocks = estimate_input_tokens(ask("hi", system=[{"type": "text", "text": "s" * 400}]))
    assert as_string == as_blocks == base + 100


def test_it_counts_each_image_at_a_fixed_cost() -> None:
    base = estimate_input_tokens(ask([{"type": "text", "text": "what is this"}]))
    one = estimate_input_tokens(ask([IMAGE, {"type": "text", "text": "what is this"}]))
    two = estimate_input_tokens(ask([IMAGE, IMAGE, {"type": "text", "text": "what is this"}]))
    assert one - base == TOKENS_PER_IMAGE
    assert two - base == 2 * TOKENS_PER_IMAGE


def test_it_does_not_count_an_images_base64_as_text() -> None:
    big = {**IMAGE, "source": {**IMAGE["source"], "data": "A" * 1_000_000}}
    assert estimate_input_tokens(ask([big])) == TOKENS_PER_MESSAGE + TOKENS_PER_IMAGE


def test_it_counts_each_document_at_a_fixed_cost() -> None:
    assert estimate_input_tokens(ask([DOCUMENT])) == (
        TOKENS_PER_MESSAGE + TOKENS_PER_DOCUMENT_PAGE_GUESS
    )


def test_it_counts_the_tools_offered() -> None:
    without = estimate_input_tokens(ask("hi"))
    one = estimate_input_tokens(ask("hi", tools=[BASH_TOOL]))
    two = estimate_input_tokens(ask("hi", tools=[BASH_TOOL, {**BASH_TOOL, "name": "Bash2"}]))
    assert without < one < two
    assert one - without >= len(BASH_TOOL["description"]) // CHARS_PER_TOKEN


def test_it_ignores_tools_that_are_not_a_list() -> None:
    assert estimate_input_tokens(ask("hi", tools="Bash")) == estimate_input_tokens(ask("hi"))


def test_it_counts_tool_use_input_and_name() -> None:
    small = {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "ls"}}
    large = {**small, "input": {"command": "ls " + "x" * 400}}
    message = {"role": "assistant", "content": [small]}
    assert estimate_input_tokens({"messages": [message]}) > TOKENS_PER_MESSAGE
    assert (
        estimate_input_tokens({"messages": [{"role": "assistant", "content": [large]}]})
        >= estimate_input_tokens({"messages": [message]}) + 100
    )


def test_it_counts_a_tool_results_string_content() -> None:
    result = {"type": "tool_result", "tool_use_id": "t", "content": "y" * 400}
    assert estimate_input_tokens(ask([result])) == TOKENS_PER_MESSAGE + 100


def test_it_counts_a_tool_results_nested_blocks_with_their_images() -> None:
    result = {
        "type": "tool_result",
        "tool_use_id": "t",
        "content": [{"type": "text", "text": "y" * 400}, IMAGE],
    }
    assert estimate_input_tokens(ask([result])) == TOKENS_PER_MESSAGE + 100 + TOKENS_PER_IMAGE


def test_it_counts_thinking_text() -> None:
    thinking = {"type": "thinking", "thinking": "z" * 400, "signature": "sig"}
    message = {"role": "assistant", "content": [thinking]}
    assert estimate_input_tokens({"messages": [message]}) == TOKENS_PER_MESSAGE + 100


def test_it_counts_unknown_blocks_by_their_json() -> None:
    block = {"type": "future_block", "payload": "w" * 400}
    assert estimate_input_tokens(ask([block])) > TOKENS_PER_MESSAGE + 100


@pytest.mark.parametrize(
    "payload",
    [
        {"messages": None},
        {"messages": [None, "text", 5, []]},
        {"messages": [{"role": "user"}]},
        {"messages": [{"role": "user", "content": None}]},
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [{"role": "user", "content": [None, "text", 5, ["x"]]}]},
        {"messages": [{"role": "user", "content": [{"no": "type"}]}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]},
        {"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]},
        {"messages": [{"role": "user", "content": [{"type": "tool_result", "content": None}]}]},
        {"messages": [{"role": "user", "content": [{"type": "tool_result", "content": [5]}]}]},
        {"messages": [{"role": "assistant", "content": [{"type": "tool_use"}]}]},
        {"messages": [{"role": "assistant", "content": [{"type": "thinking"}]}]},
        {"system": None, "messages": []},
        {"system": 5, "messages": []},
        {"system": [None, {"type": "text"}], "messages": []},
        {"tools": None},
        {"tools": []},
        {"tools": [None, 5, "x"]},
    ],
)
def test_it_does_not_crash_on_odd_shapes(payload: dict[str, Any]) -> None:
    assert estimate_input_tokens(payload) >= 0


@pytest.mark.parametrize(
    "block",
    [
        {"type": "tool_result", "content": [{"type": "text", "text": 5}]},
        {"type": "tool_use", "name": 5, "input": {}},
        {"type": "thinking", "thinking": 5},
    ],
    ids=["tool_result_text_number", "tool_use_name_number", "thinking_number"],
)
def test_it_does_not_crash_on_non_string_text_that_validation_lets_through(
    block: dict[str, Any],
) -> None:
    # validate_messages_request checks `text` only at the top level of a message,
    # so these reach the estimate on /v1/messages and /v1/messages/count_tokens.
    assert estimate_input_tokens(ask([block])) >= TOKENS_PER_MESSAGE
