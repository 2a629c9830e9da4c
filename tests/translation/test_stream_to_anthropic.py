"""OpenAI stream chunks -> Anthropic stream events: each promise of StreamTranslator."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.openai.presets import PRESETS
from providers.openai.stream_to_anthropic import StreamTranslator, parse_chunk
from tests.translation.helpers import check_events, names, recorded, run_stream, sdk_message

OPENAI = PRESETS["openai"]


def chunk(
    delta: dict[str, Any] | None = None, finish_reason: str | None = None, **extra: Any
) -> dict:
    choices = (
        [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    )
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": choices, **extra}


def call(index: int, arguments: str, call_id: str | None = None, name: str | None = None) -> dict:
    function: dict[str, Any] = {"arguments": arguments}
    if name:
        function["name"] = name
    fragment: dict[str, Any] = {"index": index, "function": function}
    if call_id:
        fragment["id"] = call_id
        fragment["type"] = "function"
    return chunk({"tool_calls": [fragment]})


def translator() -> StreamTranslator:
    return StreamTranslator(requested_model="claude-sonnet-4-5", preset=OPENAI)


# -- promise 1: message_start first, exactly once ------------------------------------------


def test_it_sends_message_start_first_and_once():
    events = run_stream(
        [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hi"})], OPENAI
    )
    assert names(events)[0] == "message_start"
    assert names(events).count("message_start") == 1
    message = events[0][1]["message"]
    assert message["id"] == "msg_chatcmpl-1"
    assert message["model"] == "claude-sonnet-4-5"
    assert message["usage"] == {
        "input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }


def test_it_uses_usage_already_in_the_first_chunk_for_message_start():
    first = chunk({"content": "x"}, usage={"prompt_tokens": 30, "completion_tokens": 1})
    events = translator().feed(first)
    assert events[0][1]["message"]["usage"]["input_tokens"] == 30


def test_it_uses_a_given_message_id():
    events = StreamTranslator(requested_model="m", preset=OPENAI, message_id="msg_fixed").feed(
        chunk({})
    )
    assert events[0][1]["message"]["id"] == "msg_fixed"


def test_an_empty_stream_still_makes_a_well_formed_message():
    events = translator().finish()
    assert names(events) == ["message_start", "message_delta", "message_stop"]
    check_events(events)


# -- promises 2 and 3: blocks, indices, reasoning before text ---------------------------------


def test_it_sends_reasoning_then_text_as_two_blocks_with_consecutive_indices():
    events = run_stream(
        [
            chunk({"role": "assistant", "reasoning_content": ""}),
            chunk({"reasoning_content": "Let me "}),
            chunk({"reasoning_content": "think."}),
            chunk({"content": "Answer"}),
            chunk({"content": " here."}, "stop"),
        ],
        PRESETS["deepseek"],
    )
    blocks = check_events(events)
    assert blocks == [
        {"type": "thinking", "thinking": "Let me think.", "signature": ""},
        {"type": "text", "text": "Answer here."},
    ]
    assert [d["index"] for n, d in events if n == "content_block_start"] == [0, 1]


def test_it_reads_the_reasoning_field_too():
    blocks = check_events(
        run_stream([chunk({"reasoning": "hm"}), chunk({"content": "ok"})], PRESETS["groq"])
    )
    assert [b["type"] for b in blocks] == ["thinking", "text"]


def test_it_opens_a_new_thinking_block_when_reasoning_resumes_after_text():
    blocks = check_events(
        run_stream(
            [
                chunk({"reasoning_content": "a"}),
                chunk({"content": "b"}),
                chunk({"reasoning_content": "c"}),
            ],
            OPENAI,
        )
    )
    assert [b["type"] for b in blocks] == ["thinking", "text", "thinking"]


def test_it_ignores_empty_content_deltas():
    events = run_stream(
        [chunk({"role": "assistant", "content": ""}), chunk({"content": None})], OPENAI
    )
    assert "content_block_start" not in names(events)


def test_it_passes_unicode_split_across_chunks_through():
    blocks = check_events(
        run_stream([chunk({"content": "héllo "}), chunk({"content": "👋🏽 日本"})], OPENAI)
    )
    assert blocks[0]["text"] == "héllo 👋🏽 日本"


# -- promises 4 and 5: tool calls ----------------------------------------------------------


def test_it_streams_text_then_a_tool_call():
    events = run_stream(
        [
            chunk({"content": "Let me check."}),
            call(0, "", "call_1", "Read"),
            call(0, '{"path"'),
            call(0, ': "a.py"}'),
            chunk({}, "tool_calls"),
        ],
        OPENAI,
    )
    blocks = check_events(events)
    assert blocks[0] == {"type": "text", "text": "Let me check."}
    assert blocks[1]["id"] == "call_1" and blocks[1]["name"] == "Read"
    assert blocks[1]["input"] == {"path": "a.py"}
    deltas = [
        d["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and d["index"] == 1
    ]
    assert deltas == ['{"path"', ': "a.py"}']  # forwarded as they came


def test_it_sends_empty_arguments_as_an_empty_object():
    blocks = check_events(
        run_stream([call(0, "", "call_1", "Ls"), chunk({}, "tool_calls")], OPENAI)
    )
    assert blocks[0]["json"] == "{}"
    assert blocks[0]["input"] == {}


def test_it_sends_parallel_calls_one_block_each_in_order():
    events = run_stream(
        [
            call(0, '{"a": 1}', "call_a", "A"),
            call(1, '{"b": 2}', "call_b", "B"),
            call(2, "{}", "call_c", "C"),
            chunk({}, "tool_calls"),
        ],
        OPENAI,
    )
    blocks = check_events(events)
    assert [(b["id"], b["input"]) for b in blocks] == [
        ("call_a", {"a": 1}),
        ("call_b", {"b": 2}),
        ("call_c", {}),
    ]


def test_it_buffers_interleaved_argument_fragments_per_call():
    events = run_stream(
        [
            call(0, '{"path": ', "call_a", "Read"),
            call(1, '{"pattern": ', "call_b", "Grep"),
            call(0, '"a.py"'),
            call(1, '"TODO"}'),
            call(0, "}"),
            chunk({}, "tool_calls"),
        ],
        OPENAI,
    )
    blocks = check_events(events)
    assert [(b["name"], b["input"]) for b in blocks] == [
        ("Read", {"path": "a.py"}),
        ("Grep", {"pattern": "TODO"}),
    ]
    # Call 0 was streamed live; call 1 arrived in one piece once call 0 was complete.
    grep_deltas = [d for n, d in events if n == "content_block_delta" and d["index"] == 1]
    assert [d["delta"]["partial_json"] for d in grep_deltas] == ['{"pattern": "TODO"}']


def test_it_holds_text_that_arrives_while_a_calls_arguments_are_incomplete():
    events = run_stream(
        [call(0, '{"a": ', "call_a", "A"), chunk({"content": "aside"}), call(0, "1}")],
        OPENAI,
    )
    blocks = check_events(events)
    assert [b["type"] for b in blocks] == ["tool_use", "text"]
    assert blocks[0]["input"] == {"a": 1}


def test_it_separates_calls_from_a_server_that_numbers_them_all_zero():
    blocks = check_events(
        run_stream(
            [
                call(0, '{"x": 1}', "call_1", "A"),
                call(0, '{"y": 2}', "call_2", "B"),
                chunk({}, "tool_calls"),
            ],
            OPENAI,
        )
    )
    assert [(b["id"], b["input"]) for b in blocks] == [("call_1", {"x": 1}), ("call_2", {"y": 2})]


def test_it_generates_an_id_for_a_call_without_one():
    blocks = check_events(run_stream([call(0, "{}", None, "A")], OPENAI))
    assert blocks[0]["id"].startswith("toolu_")


def test_it_drops_trailing_garbage_after_a_complete_object():
    blocks = check_events(run_stream([call(0, '{"a": 1}', "c", "A"), call(0, "}<|call|>")], OPENAI))
    assert blocks[0]["json"] == '{"a": 1}'


def test_it_closes_arguments_cut_off_by_the_token_limit():
    events = run_stream(
        [call(0, '{"content": "half a fi', "c", "Write"), chunk({}, "length")], OPENAI
    )
    blocks = check_events(events)
    assert blocks[0]["input"] == {"content": "half a fi"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_it_sends_double_encoded_arguments_once_repaired():
    blocks = check_events(run_stream([call(0, '"{\\"a\\": 1}"', "c", "A")], OPENAI))
    assert blocks[0]["input"] == {"a": 1}


def test_it_ends_with_an_error_when_arguments_cannot_be_made_valid():
    events = run_stream([call(0, '{"a": ', "c", "A"), chunk({}, "tool_calls")], OPENAI)
    assert names(events)[-1] == "error"
    assert "message_stop" not in names(events)
    assert events[-1][1]["error"]["type"] == "api_error"


# -- promise 6: message_delta -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_it_maps_the_finish_reason_into_message_delta(finish_reason, stop_reason):
    events = run_stream([chunk({"content": "x"}, finish_reason)], OPENAI)
    assert events[-2][1]["delta"] == {"stop_reason": stop_reason, "stop_sequence": None}


def test_it_says_tool_use_whenever_a_call_was_made():
    events = run_stream([call(0, "{}", "c", "A"), chunk({}, "stop")], OPENAI)
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_it_reports_a_matched_stop_sequence():
    last = {
        "id": "x",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "stop_reason": "END"}],
    }
    events = run_stream([chunk({"content": "x"}), last], OPENAI)
    assert events[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}


def test_it_puts_usage_from_the_last_chunk_into_message_delta():
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 800},
    }
    events = run_stream([chunk({"content": "x"}, "stop"), chunk(None, usage=usage)], OPENAI)
    assert events[-2][1]["usage"] == {
        "input_tokens": 200,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 800,
        "output_tokens": 7,
    }


def test_it_sends_zero_usage_when_the_upstream_reports_none():
    usage = run_stream([chunk({"content": "x"}, "stop")], OPENAI)[-2][1]["usage"]
    assert set(usage.values()) == {0}


# -- promise 7: nothing after the end ----------------------------------------------------------


def test_it_sends_nothing_after_message_stop():
    t = translator()
    t.feed(chunk({"content": "x"}, "stop"))
    assert names(t.finish())[-1] == "message_stop"
    assert t.done
    assert t.finish() == [] and t.feed(chunk({"content": "y"})) == [] and t.ping() == []
    assert t.fail("late") == []


def test_fail_sends_one_error_event_and_leaves_blocks_open():
    t = translator()
    t.feed(chunk({"content": "partial"}))
    events = t.fail("upstream connection reset")
    assert events == [
        (
            "error",
            {
                "type": "error",
                "error": {"type": "api_error", "message": "upstream connection reset"},
            },
        )
    ]
    assert t.finish() == [] and t.fail("again") == []


def test_an_error_chunk_from_upstream_fails_the_stream():
    t = translator()
    t.feed(chunk({"content": "x"}))
    events = t.feed({"error": {"message": "Provider returned error", "code": 502}})
    assert names(events) == ["error"]
    assert "Provider returned error" in events[0][1]["error"]["message"]


# -- promise 8: ping -----------------------------------------------------------------------------


def test_ping_before_anything_sends_message_start_first():
    t = translator()
    assert names(t.ping()) == ["message_start", "ping"]
    assert names(t.ping()) == ["ping"]
    events = t.feed(chunk({"content": "x"}))
    assert "message_start" not in names(events)


# -- end of input ------------------------------------------------------------------------------


def test_it_tells_whether_the_upstream_finished_for_a_stream_without_done():
    t = translator()
    t.feed(chunk({"content": "x"}))
    assert not t.upstream_finished  # caller: fail()
    t.feed(chunk({}, "stop"))
    assert t.upstream_finished  # caller: finish()


# -- parse_chunk is stateless --------------------------------------------------------------------


def test_parse_chunk_orders_reasoning_text_and_tool_fragments():
    parts = parse_chunk(
        chunk(
            {
                "reasoning_content": "r",
                "content": "t",
                "tool_calls": [
                    {"index": 0, "id": "c", "function": {"name": "A", "arguments": "{"}}
                ],
            },
            "tool_calls",
        ),
        OPENAI,
    )
    assert [type(p).__name__ for p in parts.pieces] == ["TextPiece", "TextPiece", "ToolFragment"]
    assert parts.finish_reason == "tool_calls"


def test_parse_chunk_reads_groq_usage():
    parts = parse_chunk(chunk({}, "stop", x_groq={"usage": {"prompt_tokens": 3}}), OPENAI)
    assert parts.usage == {"prompt_tokens": 3}


# -- recorded streams --------------------------------------------------------------------------


def test_it_replays_a_recorded_openai_parallel_tool_call_stream():
    chunks, done = recorded("openai_parallel_tools.sse")
    assert done
    events = run_stream(chunks, OPENAI)
    blocks = check_events(events)
    assert [(b["id"], b["name"], b["input"]) for b in blocks] == [
        ("call_KbW1", "Read", {"file_path": "/tmp/a.py"}),
        ("call_Zq9", "Grep", {"pattern": "déjà vu"}),
    ]
    assert events[-2][1]["usage"] == {
        "input_tokens": 176,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1024,
        "output_tokens": 48,
    }
    message = sdk_message(events)
    assert message.stop_reason == "tool_use"
    assert message.content[1].input == {"pattern": "déjà vu"}
    assert message.usage.input_tokens == 176


def test_it_replays_a_recorded_deepseek_reasoning_stream():
    chunks, _ = recorded("deepseek_reasoning.sse")
    events = run_stream(chunks, PRESETS["deepseek"])
    blocks = check_events(events)
    assert blocks[0]["thinking"] == "The user asks for 9.11 vs 9.8."
    assert blocks[1]["text"] == "9.8 is greater."
    message = sdk_message(events)
    assert (message.usage.input_tokens, message.usage.output_tokens) == (18, 60)


def test_it_replays_a_recorded_groq_stream_that_ends_without_done():
    chunks, done = recorded("groq_x_groq_usage_no_done.sse")
    assert not done
    t = StreamTranslator(requested_model="claude-haiku-4-5", preset=PRESETS["groq"])
    events = [event for c in chunks for event in t.feed(c)]
    assert t.upstream_finished
    events += t.finish()
    blocks = check_events(events)
    assert [b["type"] for b in blocks] == ["thinking", "text"]
    assert blocks[1]["text"] == "Hello 👋"
    assert events[-2][1]["usage"]["input_tokens"] == 75
    assert events[-2][1]["usage"]["output_tokens"] == 12


# -- property: any well-formed chunk sequence ---------------------------------------------

JSON_LEAVES = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8)
ARGUMENTS = st.dictionaries(
    st.text(max_size=5),
    st.recursive(
        JSON_LEAVES,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
        max_leaves=6,
    ),
    max_size=4,
)


def split(draw: st.DrawFn, text: str) -> list[str]:
    """Cut text into fragments at drawn places (inside escapes and strings too)."""
    if not text:
        return [""]
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=4))))
    bounds = [0, *[c for c in cuts if c < len(text)], len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@st.composite
def chunk_sequences(draw: st.DrawFn) -> tuple[list[dict], dict[str, Any]]:
    reasoning = draw(st.lists(st.text(min_size=1, max_size=8), max_size=3))
    texts = draw(st.lists(st.text(min_size=1, max_size=8), max_size=3))
    calls = draw(st.lists(ARGUMENTS, max_size=3))
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning_content": r}) for r in reasoning]
    chunks += [chunk({"content": t}) for t in texts]

    queues = []
    for index, arguments in enumerate(calls):
        encoded = json.dumps(arguments, ensure_ascii=draw(st.booleans()))
        fragments = split(draw, encoded) if draw(st.booleans()) else [encoded]
        queue = [call(index, fragments[0], f"call_{index}", f"tool_{index}")]
        queue += [call(index, fragment) for fragment in fragments[1:]]
        queues.append(queue)
    rng = draw(st.randoms(use_true_random=False))
    while any(queues):  # interleave the calls, keeping each call's own order
        queue = rng.choice([q for q in queues if q])
        chunks.append(queue.pop(0))

    finish = "tool_calls" if calls else draw(st.sampled_from(["stop", "length", "content_filter"]))
    usage = {
        "prompt_tokens": 50,
        "completion_tokens": 9,
        "prompt_tokens_details": {"cached_tokens": 20},
    }
    if draw(st.booleans()):
        chunks.append(chunk({}, finish, usage=usage))
    else:
        chunks += [chunk({}, finish), chunk(None, usage=usage)]
    expected = {"reasoning": "".join(reasoning), "text": "".join(texts), "calls": calls}
    return chunks, expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=chunk_sequences())
def test_any_well_formed_chunk_sequence_yields_a_well_formed_event_sequence(sequence):
    chunks, expected = sequence
    events = run_stream(chunks, OPENAI)
    blocks = check_events(
        events
    )  # message_start first, paired blocks, valid JSON, message_stop last
    assert names(events)[-1] == "message_stop"
    assert (
        "".join(b["thinking"] for b in blocks if b["type"] == "thinking") == expected["reasoning"]
    )
    assert "".join(b["text"] for b in blocks if b["type"] == "text") == expected["text"]
    tools = {b["id"]: b["input"] for b in blocks if b["type"] == "tool_use"}
    assert tools == {f"call_{i}": arguments for i, arguments in enumerate(expected["calls"])}
    assert events[-2][1]["usage"]["cache_read_input_tokens"] == 20
    if expected["calls"]:
        assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    message = sdk_message(events)
    assert len(message.content) == len(blocks)


FRAGMENT_TEXT = st.sampled_from(['{"a": ', "1}", "}", '"x"', "[", "", " ", "{}", "garbage", '\\"'])
ODD_DELTAS = st.fixed_dictionaries(
    {},
    optional={
        "content": st.none() | st.text(max_size=5) | st.just([{"type": "text", "text": "p"}]),
        "reasoning_content": st.none() | st.text(max_size=5),
        "refusal": st.none() | st.text(max_size=5),
        "tool_calls": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "index": st.none() | st.integers(0, 2),
                    "id": st.none() | st.sampled_from(["", "c1", "c2"]),
                    "function": st.fixed_dictionaries(
                        {},
                        optional={
                            "name": st.none() | st.sampled_from(["", "A", "B"]),
                            "arguments": st.none() | FRAGMENT_TEXT,
                        },
                    ),
                },
            ),
            max_size=2,
        ),
    },
)
ODD_CHUNKS = st.one_of(
    st.builds(
        lambda delta, finish: chunk(delta, finish),
        ODD_DELTAS,
        st.none() | st.sampled_from(["stop", "length", "tool_calls", "weird"]),
    ),
    st.just(chunk(None, usage={"prompt_tokens": None})),
    st.just({"choices": None}),
    st.just({"choices": [{"index": 1, "delta": {"content": "other choice"}}]}),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(ODD_CHUNKS, max_size=8), pings=st.booleans())
def test_odd_chunk_sequences_never_crash_and_end_cleanly(chunks, pings):
    t = translator()
    events = []
    for c in chunks:
        events += t.feed(c)
        if pings:
            events += t.ping()
    events += t.finish()
    assert events[0][0] in ("message_start", "error")
    if events[-1][0] == "message_stop":
        check_events(events)
    else:
        assert events[-1][0] == "error"
        assert names(events).count("error") == 1
