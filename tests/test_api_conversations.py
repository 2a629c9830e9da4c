"""/api/conversations/: requests grouped by conversation key, most recently active first."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import orjson
import pytest

from requestlog import conversations
from tests.logrows import T0, make_row, request_body
from tests.operators import log_reader_client as staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return staff_client()


def claude_code_body(prompt: str) -> str:
    """A first request as Claude Code sends it: injected reminders before the prompt."""
    return orjson.dumps(
        {
            "model": "claude-sonnet-4-5",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "<system-reminder>be nice</system-reminder>"},
                        {"type": "text", "text": prompt},
                    ],
                }
            ],
        }
    ).decode()


@pytest.fixture
def two_conversations():
    """`older` (3 turns, two models), then `newer` (2 turns); rows without a key too."""
    make_row(
        conversation_key="older",
        started_at=T0,
        request_body=claude_code_body("Fix the flaky test"),
        input_tokens=10,
        output_tokens=1,
        cost_usd=Decimal("0.01"),
    )
    make_row(
        conversation_key="older",
        started_at=T0 + timedelta(minutes=1),
        target_model="claude-haiku-4-5",
        input_tokens=20,
        cache_read_input_tokens=300,
        status=429,
        outcome="upstream_error",
    )
    make_row(
        conversation_key="older",
        started_at=T0 + timedelta(minutes=2),
        output_tokens=5,
        cache_creation_input_tokens=7,
        cost_usd=Decimal("0.02"),
    )
    make_row(
        conversation_key="newer",
        started_at=T0 + timedelta(minutes=3),
        request_body=request_body("x" * 500),
    )
    make_row(conversation_key="newer", started_at=T0 + timedelta(minutes=4))
    make_row(conversation_key="", started_at=T0 + timedelta(minutes=5))


def test_it_lists_conversations_by_last_activity(api, two_conversations):
    body = api.get("/api/conversations/").json()

    assert [c["key"] for c in body["results"]] == ["newer", "older"]
    assert body["next"] is None


def test_it_summarises_a_conversation(api, two_conversations):
    older = api.get("/api/conversations/").json()["results"][1]

    assert older["first_prompt"] == "Fix the flaky test"  # the reminder is skipped
    assert older["turns"] == 3
    assert (older["input_tokens"], older["output_tokens"]) == (30, 6)
    assert (older["cache_read_input_tokens"], older["cache_creation_input_tokens"]) == (300, 7)
    assert older["errors"] == 1
    assert Decimal(older["cost_usd"]) == Decimal("0.03")
    assert older["first_at"] == "2026-01-10T12:00:00Z"
    assert older["last_at"] == "2026-01-10T12:02:00Z"
    assert older["models"] == ["claude-haiku-4-5", "claude-sonnet-4-5"]
    assert older["url"].endswith("/api/conversations/older/")


def test_it_cuts_a_long_first_prompt(api, two_conversations):
    newer = api.get("/api/conversations/").json()["results"][0]

    assert len(newer["first_prompt"]) == conversations.FIRST_PROMPT_CHARS
    assert newer["first_prompt"].endswith("…")


def test_it_pages_with_a_cursor_and_a_newly_active_conversation_goes_to_the_top(api):
    for index in range(5):
        make_row(conversation_key=f"c{index}", started_at=T0 + timedelta(minutes=index))
    first = api.get("/api/conversations/?page_size=2").json()
    make_row(conversation_key="c0", started_at=T0 + timedelta(hours=1))  # c0 wakes up

    second = api.get(first["next"]).json()

    assert [c["key"] for c in first["results"]] == ["c4", "c3"]
    assert [c["key"] for c in second["results"]] == ["c2", "c1"]
    assert second["next"] is None  # c0 moved above the cursor
    assert api.get("/api/conversations/?page_size=1").json()["results"][0]["key"] == "c0"


def test_conversations_with_the_same_last_activity_page_by_key(api):
    for key in ("a", "b", "c"):
        make_row(conversation_key=key, started_at=T0)

    first = api.get("/api/conversations/?page_size=2").json()
    second = api.get(first["next"]).json()

    assert [c["key"] for c in first["results"] + second["results"]] == ["c", "b", "a"]


def test_it_finds_a_page_of_conversations_among_many_interleaved_rows():
    # More rows than one scan chunk, each conversation active across all of them.
    rows = conversations.SCAN_CHUNK * 3
    for index in range(rows):
        make_row(conversation_key=f"k{index % 7}", started_at=T0 + timedelta(seconds=index))

    page = conversations.recent_conversation_keys(limit=3)
    rest = conversations.recent_conversation_keys(limit=10, after=page[-1])

    newest = [f"k{(rows - 1 - i) % 7}" for i in range(7)]
    assert [key for _, key in page] == newest[:3]
    assert [key for _, key in rest] == newest[3:]


def test_the_detail_lists_the_turns_oldest_first(api, two_conversations):
    body = api.get("/api/conversations/older/").json()

    assert body["conversation"]["turns"] == 3
    assert [turn["started_at"] for turn in body["results"]] == [
        "2026-01-10T12:00:00Z",
        "2026-01-10T12:01:00Z",
        "2026-01-10T12:02:00Z",
    ]
    assert "request_body" not in body["results"][0]


def test_the_detail_pages_long_conversations(api):
    for index in range(5):
        make_row(conversation_key="long", started_at=T0 + timedelta(seconds=index))

    first = api.get("/api/conversations/long/?page_size=3").json()
    second = api.get(first["next"]).json()

    assert len(first["results"]) == 3
    assert len(second["results"]) == 2
    assert second["next"] is None


ODD_KEYS = [
    "line one\nline two",
    "team/a b?c#d",
    "50% off",
    "../..",
    "sitzung-ü-会話",
    "k" * 99 + "/",
]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_a_conversation_with_any_key_is_reached_through_its_url(api, key):
    make_row(conversation_key=key)
    make_row(conversation_key=key, started_at=T0 + timedelta(seconds=1))

    listed = api.get("/api/conversations/").json()["results"]
    (conversation,) = [item for item in listed if item["key"] == key]
    detail = api.get(conversation["url"])

    assert "/api/conversations/~" in conversation["url"]
    assert detail.status_code == 200, detail.content
    assert detail.json()["conversation"]["key"] == key
    assert detail.json()["conversation"]["turns"] == 2


def test_a_plain_key_is_its_own_url_segment(api):
    make_row(conversation_key="2f0c7a52-8c1e-4a35-9d1b-0b6a1c9e1d2f")

    (conversation,) = api.get("/api/conversations/").json()["results"]

    assert conversation["url"].endswith("/api/conversations/2f0c7a52-8c1e-4a35-9d1b-0b6a1c9e1d2f/")
    assert api.get(conversation["url"]).status_code == 200


@pytest.mark.parametrize("segment", ["~", "~!!", "~YQ=", "%0A", "~_-_-"])
def test_a_segment_that_is_no_key_is_404(api, segment):
    make_row(conversation_key="a")
    assert api.get(f"/api/conversations/{segment}/").status_code == 404


def test_an_unknown_conversation_is_404(api):
    assert api.get("/api/conversations/nope/").status_code == 404


def test_a_garbled_cursor_is_404(api):
    assert api.get("/api/conversations/?cursor=zzz").status_code == 404


def test_first_prompt_text_survives_a_body_cut_by_the_size_cap():
    assert conversations.first_prompt_text('{"messages": [{"role": "user", "content": "hi') == ""
    assert conversations.first_prompt_text(request_body("hello")) == "hello"
