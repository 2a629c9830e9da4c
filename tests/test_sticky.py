"""routing.sticky: which requests continue a turn, and the per-lane pinned decisions.

Pure Python: no database, no Django.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from routing.config import ProviderConfig
from routing.router import RouteDecision, Target
from routing.sticky import StickyLanes, is_turn_continuation, lane_key

REMINDER = "<system-reminder>\nThe user opened the file foo.py in the IDE.\n</system-reminder>"


def decision(model: str = "gpt-4o") -> RouteDecision:
    provider = ProviderConfig(
        name="openai",
        wire_format="openai",
        base_url="https://openai.example",
        connect_timeout=5.0,
        read_timeout=600.0,
    )
    return RouteDecision(target=Target(provider, model), route="rule", reason="rule 'r'")


def last(*messages: dict[str, Any]) -> dict[str, Any]:
    """A payload whose conversation starts with a real question and ends with `messages`."""
    return {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "Fix the bug in foo.py"}, *messages],
    }


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def tool_result(content: Any = "ok", tool_use_id: str = "toolu_01") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


# --- is_turn_continuation: True ----------------------------------------------------------


def test_it_continues_the_turn_on_tool_results_only() -> None:
    assert is_turn_continuation(last(user([tool_result()])))


def test_it_continues_the_turn_on_several_tool_results() -> None:
    payload = last(user([tool_result("a", "toolu_01"), tool_result([text("b")], "toolu_02")]))
    assert is_turn_continuation(payload)


def test_it_continues_the_turn_on_tool_results_with_a_system_reminder() -> None:
    assert is_turn_continuation(last(user([tool_result(), text(REMINDER)])))


def test_it_continues_the_turn_on_system_reminder_text_blocks_only() -> None:
    assert is_turn_continuation(last(user([text(REMINDER), text("  \n" + REMINDER)])))


def test_it_continues_the_turn_on_string_content_starting_with_a_system_reminder() -> None:
    assert is_turn_continuation(last(user(REMINDER)))
    assert is_turn_continuation(last(user("\n  " + REMINDER)))


def test_it_continues_the_turn_on_assistant_prefill() -> None:
    assert is_turn_continuation(last({"role": "assistant", "content": "{"}))
    assert is_turn_continuation(last({"role": "assistant", "content": [text("Here")]}))


# --- is_turn_continuation: False ---------------------------------------------------------


def test_it_starts_a_new_turn_on_real_user_text() -> None:
    assert not is_turn_continuation(last(user("and now the tests please")))
    assert not is_turn_continuation(last(user([text("and now the tests please")])))


def test_it_starts_a_new_turn_on_tool_results_mixed_with_real_text() -> None:
    assert not is_turn_continuation(last(user([tool_result(), text("stop, do it differently")])))


def test_it_starts_a_new_turn_on_a_reminder_followed_by_real_text() -> None:
    # What Claude Code sends when the user types: reminders, then the words.
    assert not is_turn_continuation(last(user([text(REMINDER), text("now run the tests")])))


def test_it_starts_a_new_turn_when_the_reminder_is_not_at_the_start() -> None:
    assert not is_turn_continuation(last(user("please read this " + REMINDER)))


def test_it_starts_a_new_turn_on_an_image() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}}
    assert not is_turn_continuation(last(user([image])))


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"messages": None},
        {"messages": "hello"},
        {"messages": []},
        {"messages": ["not a message"]},
        last(user("")),
        last(user([])),
        last(user(None)),
        last(user(["a string block"])),
        last({"role": "system", "content": REMINDER}),
        last({"content": [tool_result()]}),
    ],
    ids=[
        "no_messages",
        "null_messages",
        "string_messages",
        "empty_messages",
        "non_dict_message",
        "empty_string",
        "empty_list",
        "null_content",
        "non_dict_block",
        "system_role",
        "no_role",
    ],
)
def test_it_starts_a_new_turn_on_empty_or_odd_shapes(payload: dict[str, Any]) -> None:
    assert not is_turn_continuation(payload)


# --- lane_key -----------------------------------------------------------------------------


def test_it_keys_lanes_by_conversation_party_and_requested_model() -> None:
    key = lane_key("session-1", "main", "claude-sonnet-4-5")
    assert key == lane_key("session-1", "main", "claude-sonnet-4-5")
    assert key != lane_key("session-2", "main", "claude-sonnet-4-5")
    assert key != lane_key("session-1", "code-reviewer", "claude-sonnet-4-5")
    assert key != lane_key("session-1", "main", "claude-haiku-4-5")


def test_it_does_not_confuse_lanes_whose_parts_run_together() -> None:
    assert lane_key("a", "bc", "d") != lane_key("ab", "c", "d")


# --- StickyLanes ----------------------------------------------------------------------------


def test_it_returns_nothing_for_a_lane_never_pinned() -> None:
    assert StickyLanes().get("lane", 1) is None


def test_it_returns_the_decision_pinned_with_the_same_config_version() -> None:
    lanes, pinned = StickyLanes(), decision()
    lanes.pin("lane", pinned, 3)
    assert lanes.get("lane", 3) is pinned
    assert lanes.get("lane", 3) is pinned


def test_it_replaces_the_decision_when_a_lane_is_pinned_again() -> None:
    lanes, newer = StickyLanes(), decision("gpt-4.1")
    lanes.pin("lane", decision(), 1)
    lanes.pin("lane", newer, 1)
    assert lanes.get("lane", 1) is newer
    assert len(lanes) == 1


def test_it_forgets_a_lane_pinned_under_another_config_version() -> None:
    lanes = StickyLanes()
    lanes.pin("lane", decision(), 3)
    assert lanes.get("lane", 4) is None
    assert len(lanes) == 0
    assert lanes.get("lane", 3) is None  # gone, not just hidden


def test_it_forgets_a_lane_after_its_ttl() -> None:
    lanes = StickyLanes(ttl=0.05)
    lanes.pin("lane", decision(), 1)
    time.sleep(0.1)
    assert lanes.get("lane", 1) is None
    assert len(lanes) == 0


def test_it_counts_the_ttl_from_the_lanes_last_request() -> None:
    # A long turn only reads its lane (continuations are never re-pinned), so each
    # read must keep the lane alive: "for how long after their last request".
    lanes, pinned = StickyLanes(ttl=0.5), decision()
    lanes.pin("lane", pinned, 1)
    for _ in range(4):
        time.sleep(0.2)
        assert lanes.get("lane", 1) is pinned


def test_it_keeps_a_lane_within_its_ttl() -> None:
    lanes, pinned = StickyLanes(ttl=60), decision()
    lanes.pin("lane", pinned, 1)
    assert lanes.get("lane", 1) is pinned


def test_it_evicts_the_least_recently_used_lane_beyond_max_lanes() -> None:
    lanes = StickyLanes(max_lanes=2)
    lanes.pin("a", decision("a"), 1)
    lanes.pin("b", decision("b"), 1)
    lanes.pin("c", decision("c"), 1)
    assert len(lanes) == 2
    assert lanes.get("a", 1) is None
    assert lanes.get("b", 1) is not None
    assert lanes.get("c", 1) is not None


def test_it_counts_a_get_as_a_use_for_eviction() -> None:
    lanes = StickyLanes(max_lanes=2)
    lanes.pin("a", decision("a"), 1)
    lanes.pin("b", decision("b"), 1)
    assert lanes.get("a", 1) is not None  # now b is the least recently used
    lanes.pin("c", decision("c"), 1)
    assert lanes.get("b", 1) is None
    assert lanes.get("a", 1) is not None
    assert lanes.get("c", 1) is not None


def test_it_forgets_a_lane_on_request() -> None:
    lanes = StickyLanes()
    lanes.pin("a", decision(), 1)
    lanes.pin("b", decision(), 1)
    lanes.forget("a")
    lanes.forget("never-pinned")
    assert lanes.get("a", 1) is None
    assert lanes.get("b", 1) is not None
    assert len(lanes) == 1
