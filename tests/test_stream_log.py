"""MessageAccumulator: the final Message rebuilt from an Anthropic event stream."""

from __future__ import annotations

from typing import Any

import orjson

from providers.anthropic.stream_log import MessageAccumulator
from providers.sse import ServerSentEvent


def event(kind: str, **fields: Any) -> ServerSentEvent:
    """One event as Anthropic sends it: the `type` repeated inside the data."""
    return ServerSentEvent(kind, orjson.dumps({"type": kind, **fields}).decode())


def accumulate(*events: ServerSentEvent) -> MessageAccumulator:
    acc = MessageAccumulator()
    for e in events:
        acc.feed(e)
    return acc


def message_start(**usage: int) -> ServerSentEvent:
    return event(
        "message_start",
        message={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage or {"input_tokens": 10, "output_tokens": 1},
        },
    )


def block_start(index: int, block: dict[str, Any]) -> ServerSentEvent:
    return event("content_block_start", index=index, content_block=block)


def delta(index: int, **fields: Any) -> ServerSentEvent:
    return event("content_block_delta", index=index, delta=fields)


def block_stop(index: int) -> ServerSentEvent:
    return event("content_block_stop", index=index)


def tool_use(index: int, *fragments: str) -> list[ServerSentEvent]:
    return [
        block_start(
            index, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
        ),
        *(delta(index, type="input_json_delta", partial_json=f) for f in fragments),
        block_stop(index),
    ]


def test_it_rebuilds_text_from_its_deltas() -> None:
    acc = accumulate(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="Hello"),
        delta(0, type="text_delta", text=", wörld"),
        block_stop(0),
    )
    assert acc.final_message()["content"] == [{"type": "text", "text": "Hello, wörld"}]


def test_it_keeps_message_fields_from_message_start_without_its_content() -> None:
    message = accumulate(message_start()).final_message()
    assert message["id"] == "msg_1"
    assert message["role"] == "assistant"
    assert message["model"] == "claude-sonnet-4-5"
    assert message["content"] == []


def test_it_parses_tool_input_from_fragments_split_inside_keys_and_strings() -> None:
    acc = accumulate(
        message_start(), *tool_use(0, "", '{"loc', 'ation": "Par', 'is, Fr", "n": 1', "2}")
    )
    (block,) = acc.final_message()["content"]
    assert block == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "get_weather",
        "input": {"location": "Paris, Fr", "n": 12},
    }


def test_it_parses_an_empty_object_fragment() -> None:
    acc = accumulate(*tool_use(0, "{}"))
    assert acc.final_message()["content"][0]["input"] == {}


def test_it_gives_an_empty_object_when_every_fragment_is_empty() -> None:
    acc = accumulate(*tool_use(0, "", ""))
    assert acc.final_message()["content"][0]["input"] == {}


def test_it_keeps_the_start_input_when_a_tool_has_no_fragments() -> None:
    acc = accumulate(*tool_use(0))
    assert acc.final_message()["content"][0]["input"] == {}


def test_it_keeps_the_raw_text_when_the_tool_json_is_broken() -> None:
    acc = accumulate(*tool_use(0, '{"location": ', '"Par'))
    assert acc.final_message()["content"][0]["input"] == '{"location": "Par'


def test_it_parses_each_tool_input_on_its_own() -> None:
    acc = accumulate(*tool_use(0, '{"a":', "1}"), *tool_use(1, '{"b":', "2}"))
    assert [b["input"] for b in acc.final_message()["content"]] == [{"a": 1}, {"b": 2}]


def test_it_rebuilds_thinking_and_its_signature() -> None:
    acc = accumulate(
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, type="thinking_delta", thinking="Let me "),
        delta(0, type="thinking_delta", thinking="think."),
        delta(0, type="signature_delta", signature="EqQBCgIYAh"),
        delta(0, type="signature_delta", signature="IQ=="),
        block_stop(0),
    )
    assert acc.final_message()["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIQ=="}
    ]


def test_it_collects_citations() -> None:
    citation = {"type": "char_location", "cited_text": "x", "document_index": 0}
    acc = accumulate(
        block_start(0, {"type": "text", "text": ""}),
        delta(0, type="citations_delta", citation=citation),
        delta(0, type="text_delta", text="y"),
    )
    assert acc.final_message()["content"] == [
        {"type": "text", "text": "y", "citations": [citation]}
    ]


def test_it_orders_blocks_by_index() -> None:
    acc = accumulate(
        block_start(1, {"type": "text", "text": "second"}),
        block_start(0, {"type": "text", "text": "first"}),
    )
    assert [b["text"] for b in acc.final_message()["content"]] == ["first", "second"]


def test_it_starts_a_text_block_for_a_delta_without_a_start() -> None:
    acc = accumulate(delta(0, type="text_delta", text="orphan"))
    assert acc.final_message()["content"] == [{"type": "text", "text": "orphan"}]


def test_it_takes_input_and_cache_usage_from_start_and_output_from_delta() -> None:
    acc = accumulate(
        message_start(
            input_tokens=25,
            cache_creation_input_tokens=300,
            cache_read_input_tokens=1200,
            output_tokens=1,
        ),
        event(
            "message_delta",
            delta={"stop_reason": "end_turn", "stop_sequence": None},
            usage={"output_tokens": 89},
        ),
    )
    assert acc.final_message()["usage"] == {
        "input_tokens": 25,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 1200,
        "output_tokens": 89,
    }


def test_it_ignores_null_usage_values_in_message_delta() -> None:
    acc = accumulate(
        message_start(input_tokens=25, output_tokens=1),
        event("message_delta", delta={}, usage={"input_tokens": None, "output_tokens": 7}),
    )
    assert acc.usage == {"input_tokens": 25, "output_tokens": 7}


def test_it_records_the_stop_reason_from_message_delta() -> None:
    acc = accumulate(
        message_start(),
        event("message_delta", delta={"stop_reason": "tool_use", "stop_sequence": None}),
    )
    message = acc.final_message()
    assert message["stop_reason"] == "tool_use"
    assert message["id"] == "msg_1"


def test_it_accepts_message_delta_without_message_start() -> None:
    acc = accumulate(event("message_delta", delta={"stop_reason": "max_tokens"}))
    assert acc.final_message()["stop_reason"] == "max_tokens"


def test_it_is_stopped_only_after_message_stop() -> None:
    acc = accumulate(message_start(), event("message_delta", delta={"stop_reason": "end_turn"}))
    assert acc.stopped is False
    acc.feed(event("message_stop"))
    assert acc.stopped is True


def test_it_records_an_error_event() -> None:
    error = {"type": "overloaded_error", "message": "Overloaded"}
    acc = accumulate(message_start(), event("error", error=error))
    assert acc.error == error
    assert acc.final_message()["error"] == error
    assert acc.stopped is False


def test_it_has_no_error_key_when_there_was_no_error() -> None:
    assert "error" not in accumulate(message_start()).final_message()


def test_it_uses_the_event_name_when_the_data_has_no_type() -> None:
    acc = accumulate(ServerSentEvent("message_stop", "{}"))
    assert acc.stopped is True


def test_it_ignores_data_that_is_not_json() -> None:
    acc = accumulate(
        ServerSentEvent("message_stop", "{not json"),
        ServerSentEvent("message_stop", ""),
    )
    assert acc.stopped is False
    assert acc.final_message() == {"content": [], "usage": {}}


def test_it_ignores_json_that_is_not_an_object() -> None:
    acc = accumulate(ServerSentEvent("message_stop", '["message_stop"]'))
    assert acc.stopped is False


def test_it_ignores_pings_and_unknown_events() -> None:
    acc = accumulate(
        message_start(),
        ServerSentEvent("ping", '{"type": "message_stop"}'),
        event("future_event", anything=1),
    )
    assert acc.stopped is False
    assert acc.final_message()["content"] == []


def test_it_keeps_going_after_bad_json_in_the_middle() -> None:
    acc = accumulate(
        block_start(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="a"),
        ServerSentEvent("content_block_delta", '{"type": "content_block_delta", "ind'),
        delta(0, type="text_delta", text="b"),
    )
    assert acc.final_message()["content"] == [{"type": "text", "text": "ab"}]


def test_it_returns_a_new_message_each_time() -> None:
    acc = accumulate(message_start())
    acc.final_message()["usage"]["output_tokens"] = 999
    assert acc.final_message()["usage"]["output_tokens"] == 1


def test_it_keeps_every_fragment_of_a_long_answer_in_order() -> None:
    words = [f"w{i} " for i in range(30_000)]
    acc = accumulate(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        *(delta(0, type="text_delta", text=w) for w in words),
        block_stop(0),
    )
    assert acc.final_message()["content"][0]["text"] == "".join(words)


def test_it_gives_the_text_of_a_block_cut_before_its_stop() -> None:
    acc = accumulate(
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, type="thinking_delta", thinking="Let me "),
        delta(0, type="thinking_delta", thinking="see"),
        block_stop(0),
        block_start(1, {"type": "text", "text": "Pre"}),
        delta(1, type="text_delta", text="fix and "),
        delta(1, type="text_delta", text="more"),
    )
    first = acc.final_message()["content"]
    again = acc.final_message()["content"]  # asking twice changes nothing
    assert first == again == [
        {"type": "thinking", "thinking": "Let me see", "signature": ""},
        {"type": "text", "text": "Prefix and more"},
    ]
