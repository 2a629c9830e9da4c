"""Tool-call arguments: parsing, trivial repairs, and the streaming tracker."""

from __future__ import annotations

import json

import pytest

from providers.errors import UpstreamProtocolError
from providers.openai.tool_arguments import StreamingJsonObject, parse_tool_arguments


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("", {}),
        ("   ", {}),
        (None, {}),
        ("{}", {}),
        ({"already": "an object"}, {"already": "an object"}),
        ('{"a": 1}}', {"a": 1}),  # trailing garbage
        ('{"a": 1}<|call|>', {"a": 1}),
        ('{"a": {"b": [1, 2', {"a": {"b": [1, 2]}}),  # missing closers
        ('{"path": "/tmp/fi', {"path": "/tmp/fi"}),  # cut off inside a string
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('"{\\"a\\": 1}"', {"a": 1}),  # encoded twice
        ('{"text": "déjà vu 👋"}', {"text": "déjà vu 👋"}),
    ],
)
def test_it_parses_or_trivially_repairs_arguments(raw, expected):
    assert parse_tool_arguments(raw, tool_name="t") == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("not json at all", "not valid JSON"),
        ('{"a": ', "not valid JSON"),
        ('{"a" 1}', "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ("42", "not a JSON object"),
    ],
)
def test_it_rejects_arguments_it_cannot_repair(raw, problem):
    with pytest.raises(UpstreamProtocolError, match=f"tool call 'Edit': arguments are {problem}"):
        parse_tool_arguments(raw, tool_name="Edit")


def stream(*fragments: str) -> tuple[str, str | None]:
    tracker = StreamingJsonObject()
    forwarded = "".join(tracker.feed(fragment) for fragment in fragments)
    return forwarded, tracker.finish(tool_name="t")


@pytest.mark.parametrize(
    ("fragments", "forwarded", "suffix"),
    [
        (['{"a"', ": 1}"], '{"a": 1}', ""),
        ([], "", "{}"),
        (["  ", "\n"], "", "{}"),
        (['  {"a":', '"x"}'], '{"a":"x"}', ""),
        (['{"a": 1}', "}}  garbage"], '{"a": 1}', ""),
        (['{"s": "}{', '\\"', '"}'], '{"s": "}{\\""}', ""),
        (['{"a": [1', ", 2"], '{"a": [1, 2', "]}"),
        (['{"p": "cut'], '{"p": "cut', '"}'),
    ],
)
def test_the_tracker_forwards_fragments_and_completes_the_object(fragments, forwarded, suffix):
    got_forwarded, got_suffix = stream(*fragments)
    assert (got_forwarded, got_suffix) == (forwarded, suffix)
    assert isinstance(json.loads(got_forwarded + got_suffix), dict)


def test_the_tracker_holds_back_arguments_that_are_not_an_object():
    forwarded, suffix = stream('"{\\"a\\"', ': 1}"')
    assert forwarded == ""
    assert suffix == '{"a":1}'


@pytest.mark.parametrize("fragments", [['{"a":'], ['{"a":1,'], ['{"a']])
def test_the_tracker_gives_up_when_no_suffix_can_make_valid_json(fragments):
    assert stream(*fragments)[1] is None


def test_the_tracker_handles_unicode_split_between_fragments():
    text = '{"emoji": "👋🏽", "jp": "日本"}'
    fragments = [text[i : i + 3] for i in range(0, len(text), 3)]
    forwarded, suffix = stream(*fragments)
    assert json.loads(forwarded + suffix) == {"emoji": "👋🏽", "jp": "日本"}
