"""SSEDecoder and encode_event: network chunks split anywhere decode to the same events."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.sse import (
    DEFAULT_MAX_LINE_BYTES,
    ServerSentEvent,
    SSEDecoder,
    SSELineTooLong,
    encode_event,
)

LINE_ENDINGS = [b"\n", b"\r\n", b"\r"]


def decode(*chunks: bytes, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> list[ServerSentEvent]:
    """Feed the chunks in order, then flush, and return every event."""
    decoder = SSEDecoder(max_line_bytes)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.flush()
    return events


def bytewise(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


def split_at(stream: bytes, *points: int) -> list[bytes]:
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


def with_empty_reads(chunks: list[bytes]) -> list[bytes]:
    return [part for chunk in chunks for part in (chunk, b"")]


START = b'event: message_start\ndata: {"type":"message_start"}\n\n'
START_EVENT = ServerSentEvent("message_start", '{"type":"message_start"}')


def test_it_decodes_one_event_fed_whole() -> None:
    assert decode(START) == [START_EVENT]


def test_it_returns_events_as_soon_as_their_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: ping\ndata: {}\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent("ping", "{}")]
    assert decoder.flush() == []


@pytest.mark.parametrize("point", range(1, len(START)))
def test_it_decodes_an_event_split_at_any_single_point(point: int) -> None:
    assert decode(*split_at(START, point)) == [START_EVENT]


def test_it_decodes_an_event_split_inside_the_event_field_name() -> None:
    assert decode(b"eve", b"nt: message_start\ndata: {}\n\n") == [
        ServerSentEvent("message_start", "{}")
    ]


def test_it_decodes_an_event_split_inside_the_event_name() -> None:
    assert decode(b"event: message_", b"start\ndata: {}\n\n") == [
        ServerSentEvent("message_start", "{}")
    ]


def test_it_decodes_an_event_fed_one_byte_at_a_time() -> None:
    assert decode(*bytewise(START + START)) == [START_EVENT, START_EVENT]


def test_it_treats_a_crlf_split_between_cr_and_lf_as_one_line_end() -> None:
    # Were the \n taken for a second line end, "a" and "b" would be two events.
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [ServerSentEvent("message", "a\nb")]


def test_it_ignores_an_empty_chunk_between_cr_and_lf() -> None:
    assert decode(b"data: a\r", b"", b"\ndata: b\r\n\r\n") == [ServerSentEvent("message", "a\nb")]


def test_it_treats_a_cr_at_the_end_of_a_chunk_followed_by_cr_as_two_line_ends() -> None:
    assert decode(b"data: a\r", b"\rdata: b\r\r") == [
        ServerSentEvent("message", "a"),
        ServerSentEvent("message", "b"),
    ]


@pytest.mark.parametrize("ending", LINE_ENDINGS, ids=["lf", "crlf", "cr"])
def test_it_accepts_each_line_ending(ending: bytes) -> None:
    stream = ending.join(
        [b"event: a", b"data: 1", b"", b": comment", b"event: b", b"data: 2", b"data: 3", b"", b""]
    )
    expected = [ServerSentEvent("a", "1"), ServerSentEvent("b", "2\n3")]
    assert decode(stream) == expected
    assert decode(*bytewise(stream)) == expected


def test_it_accepts_mixed_line_endings_in_one_stream() -> None:
    stream = b"event: a\r\ndata: 1\r\rdata: 2\n\r\n"
    assert decode(stream) == [ServerSentEvent("a", "1"), ServerSentEvent("message", "2")]


@pytest.mark.parametrize("character", ["é", "€", "😀"])
def test_it_decodes_a_multibyte_character_split_inside_its_bytes(character: str) -> None:
    encoded = character.encode()
    stream = b"event: " + encoded + b"\ndata: " + encoded + b"\n\n"
    starts = [len(b"event: "), len(b"event: ") + len(encoded) + len(b"\ndata: ")]
    assert all(stream[s : s + len(encoded)] == encoded for s in starts)
    cuts = [s + i for s in starts for i in range(1, len(encoded))]
    for cut in cuts:
        assert decode(*split_at(stream, cut)) == [ServerSentEvent(character, character)]


def test_it_decodes_json_split_inside_a_string_and_a_number() -> None:
    payload = {"type": "content_block_delta", "delta": {"text": "Bonjour à tous"}, "n": 12345}
    stream = encode_event("content_block_delta", payload)
    inside_string = stream.index(b"jour")
    inside_number = stream.index(b"345")
    events = decode(*split_at(stream, inside_string, inside_number))
    assert [e.event for e in events] == ["content_block_delta"]
    assert events[0].json() == payload


def test_it_skips_comment_lines() -> None:
    stream = b": keep-alive\nevent: a\n:\n: another\ndata: 1\n\n"
    assert decode(stream) == [ServerSentEvent("a", "1")]


def test_it_does_not_dispatch_a_block_of_only_comments() -> None:
    assert decode(b": ping\n\n: ping\n\n") == []


def test_it_does_not_dispatch_blank_lines_without_fields() -> None:
    assert decode(b"\n\n\r\n\r\r") == []


def test_it_joins_multi_line_data_with_newlines() -> None:
    assert decode(b"data: one\ndata:\ndata: three\n\n") == [
        ServerSentEvent("message", "one\n\nthree")
    ]


def test_it_strips_exactly_one_space_after_the_colon() -> None:
    assert decode(b"data:no-space\n\ndata:  two-spaces\n\n") == [
        ServerSentEvent("message", "no-space"),
        ServerSentEvent("message", " two-spaces"),
    ]


def test_it_keeps_colons_inside_the_value() -> None:
    assert decode(b'data: {"a": "b:c"}\n\n') == [ServerSentEvent("message", '{"a": "b:c"}')]


def test_it_names_an_event_without_an_event_field_message() -> None:
    assert decode(b"data: x\n\n") == [ServerSentEvent("message", "x")]


def test_it_dispatches_an_event_with_a_name_and_no_data() -> None:
    assert decode(b"event: ping\n\n") == [ServerSentEvent("ping", "")]


def test_it_ignores_unknown_fields() -> None:
    assert decode(b"id: 7\nretry: 1000\nfoo: bar\ndata: x\n\n") == [ServerSentEvent("message", "x")]


def test_it_does_not_carry_fields_over_to_the_next_event() -> None:
    assert decode(b"event: a\ndata: 1\n\ndata: 2\n\n") == [
        ServerSentEvent("a", "1"),
        ServerSentEvent("message", "2"),
    ]


def test_it_returns_an_event_without_trailing_newline_on_flush() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: message_stop\ndata: {}") == []
    assert decoder.flush() == [ServerSentEvent("message_stop", "{}")]


def test_it_returns_an_event_without_closing_blank_line_on_flush() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: message_stop\ndata: {}\n") == []
    assert decoder.flush() == [ServerSentEvent("message_stop", "{}")]


def test_it_returns_nothing_on_flush_after_a_complete_stream() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(START) == [START_EVENT]
    assert decoder.flush() == []


def test_it_decodes_a_data_line_over_100_kib() -> None:
    big = "x" * (150 * 1024)
    stream = b"event: big\ndata: " + big.encode() + b"\n\n"
    expected = [ServerSentEvent("big", big)]
    assert decode(stream) == expected
    chunks = [stream[i : i + 1000] for i in range(0, len(stream), 1000)]
    assert decode(*chunks) == expected


def test_it_raises_when_a_buffered_line_grows_past_the_cap() -> None:
    decoder = SSEDecoder(max_line_bytes=10)
    assert decoder.feed(b"data: 1234") == []  # exactly 10 bytes is allowed
    with pytest.raises(SSELineTooLong, match="longer than 10 bytes"):
        decoder.feed(b"5")


def test_it_does_not_count_finished_lines_against_the_cap() -> None:
    stream = b"data: 1\n\n" * 50
    assert len(decode(stream, max_line_bytes=10)) == 50
    assert len(decode(*bytewise(stream), max_line_bytes=10)) == 50


def test_it_treats_line_too_long_as_a_value_error() -> None:
    assert issubclass(SSELineTooLong, ValueError)


def test_it_parses_event_data_as_json() -> None:
    assert ServerSentEvent("x", '{"a":[1,null]}').json() == {"a": [1, None]}


def test_it_encodes_an_event_as_event_and_compact_json_data_lines() -> None:
    assert encode_event("message_start", {"type": "message_start", "n": [1, 2]}) == (
        b'event: message_start\ndata: {"type":"message_start","n":[1,2]}\n\n'
    )


def test_it_encodes_non_ascii_data_as_raw_utf8() -> None:
    assert encode_event("e", {"t": "é"}) == b'event: e\ndata: {"t":"\xc3\xa9"}\n\n'


def test_it_decodes_what_it_encodes() -> None:
    data = {"type": "content_block_delta", "delta": {"text": "line\nbreak 😀"}}
    (event,) = decode(encode_event("content_block_delta", data))
    assert event.event == "content_block_delta"
    assert event.json() == data


# Anything but line breaks; the decoder must keep such values intact.
line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20)


@st.composite
def event_streams(draw: st.DrawFn, mixed_endings: bool) -> tuple[bytes, list[ServerSentEvent]]:
    """A valid SSE stream and the events it holds."""
    fixed_ending = draw(st.sampled_from(LINE_ENDINGS))

    def ending() -> bytes:
        return draw(st.sampled_from(LINE_ENDINGS)) if mixed_endings else fixed_ending

    stream = b""
    expected: list[ServerSentEvent] = []
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            stream += b":" + draw(line_text).encode() + ending()
        name = draw(st.none() | line_text)
        if name is not None:
            stream += b"event: " + name.encode() + ending()
        data = draw(st.lists(line_text, min_size=1, max_size=3))
        for line in data:
            stream += b"data: " + line.encode() + ending()
        stream += ending()
        expected.append(ServerSentEvent(name or "message", "\n".join(data)))
    if expected and draw(st.booleans()):
        stream = stream.rstrip(b"\r\n")  # the last event is left for flush()
    return stream, expected


@st.composite
def splits(draw: st.DrawFn, stream: bytes) -> list[bytes]:
    """The stream cut at arbitrary points, empty chunks included."""
    points = draw(st.lists(st.integers(0, len(stream)), max_size=12))
    return split_at(stream, *sorted(points))


@settings(database=None, deadline=None)
@given(st.data())
def test_it_decodes_any_split_of_a_stream_like_the_whole_stream(data: st.DataObject) -> None:
    stream, expected = data.draw(event_streams(mixed_endings=False))
    chunks = data.draw(splits(stream))
    assert decode(stream) == expected
    assert decode(*chunks) == expected


@settings(database=None, deadline=None)
@given(st.data())
def test_it_decodes_any_split_of_a_mixed_ending_stream_like_the_whole(
    data: st.DataObject,
) -> None:
    # With mixed endings a \r followed by a \n-ended blank line is one CRLF,
    # so only agreement with the whole stream is checked here.
    stream, _ = data.draw(event_streams(mixed_endings=True))
    chunks = data.draw(splits(stream))
    assert decode(*chunks) == decode(stream)
    # An empty read between any two bytes (a \r and its \n included) changes nothing.
    assert decode(*with_empty_reads(bytewise(stream))) == decode(stream)
