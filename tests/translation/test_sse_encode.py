"""SSE encoding of Anthropic events."""

from __future__ import annotations

import json

from providers.sse import encode_event, encode_events


def test_it_encodes_one_event_as_compact_json():
    data = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "hé 👋"},
    }
    encoded = encode_event("content_block_delta", data)
    assert encoded == (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"h\xc3\xa9 \xf0\x9f\x91\x8b"}}\n\n'
    )
    assert json.loads(encoded.split(b"data: ", 1)[1]) == data


def test_it_keeps_newlines_inside_the_one_data_line():
    encoded = encode_event("x", {"text": "a\nb\r\n"})
    assert encoded.count(b"\n") == 3  # event line, data line, blank line


def test_it_concatenates_several_events():
    events = [("ping", {"type": "ping"}), ("message_stop", {"type": "message_stop"})]
    assert encode_events(events) == (
        b'event: ping\ndata: {"type":"ping"}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
