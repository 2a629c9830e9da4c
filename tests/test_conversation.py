"""The conversation key: session header, metadata.user_id, else a first-message fingerprint."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from gateway.conversation_key import conversation_key, session_from_user_id
from providers.anthropic.user_text import first_user_text

SESSION = "8f1c2a6e-3b4d-4e5f-9a0b-1c2d3e4f5a6b"
LEGACY_USER_ID = (
    "user_3f9a0c1b2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
    "_account_0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
    f"_session_{SESSION}"
)


def payload(first_user: Any = "Fix the failing test", user_id: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": first_user}],
    }
    if user_id is not None:
        body["metadata"] = {"user_id": user_id}
    return body


def fingerprint(text: str) -> str:
    return "fp-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def test_it_prefers_the_session_header_to_everything_else() -> None:
    body = payload(user_id=orjson.dumps({"session_id": "from-metadata"}).decode())
    assert conversation_key({"x-claude-code-session-id": SESSION}, body) == SESSION


def test_it_uses_the_session_header_even_without_a_body() -> None:
    assert conversation_key({"x-claude-code-session-id": SESSION}, None) == SESSION


def test_it_strips_and_truncates_the_session_header() -> None:
    assert conversation_key({"x-claude-code-session-id": f"  {SESSION} \t"}, None) == SESSION
    long = "s" * 300
    assert conversation_key({"x-claude-code-session-id": long}, None) == "s" * 100


def test_it_ignores_a_blank_session_header() -> None:
    body = payload(user_id=LEGACY_USER_ID)
    assert conversation_key({"x-claude-code-session-id": "   "}, body) == SESSION


def test_it_reads_the_session_id_from_a_json_user_id() -> None:
    user_id = orjson.dumps(
        {"device_id": "d" * 64, "account_uuid": "a-b", "session_id": SESSION}
    ).decode()
    assert conversation_key({}, payload(user_id=user_id)) == SESSION


def test_it_reads_the_session_id_from_a_legacy_user_id() -> None:
    assert conversation_key({}, payload(user_id=LEGACY_USER_ID)) == SESSION


def test_it_truncates_a_session_id_from_metadata() -> None:
    user_id = orjson.dumps({"session_id": "x" * 300}).decode()
    assert conversation_key({}, payload(user_id=user_id)) == "x" * 100


@pytest.mark.parametrize(
    "user_id",
    [
        '{"session_id": ""}',
        '{"device_id": "abc"}',
        '{"session_id": 5}',
        '{"session_id": "abc"',  # broken JSON
        "user_abc_account_def",  # no session part
        f"user_abc_session_{SESSION}_extra",  # session part not at the end
        "user_abc_session_1234567",  # too short to be a session id
        "",
        {"session_id": SESSION},  # an object, not a string
        12345,
    ],
)
def test_it_falls_back_to_the_fingerprint_without_a_session_in_user_id(user_id: Any) -> None:
    body = payload(user_id=user_id)
    assert conversation_key({}, body) == fingerprint("Fix the failing test")


def test_it_falls_back_to_the_fingerprint_when_metadata_is_not_an_object() -> None:
    body = {**payload(), "metadata": f"_session_{SESSION}"}
    assert conversation_key({}, body) == fingerprint("Fix the failing test")


def test_it_fingerprints_the_first_user_message_text() -> None:
    assert conversation_key({}, payload("Fix the failing test")) == (
        "fp-" + hashlib.sha256(b"Fix the failing test").hexdigest()[:16]
    )


def test_it_fingerprints_block_content_as_its_text_blocks_joined() -> None:
    blocks = [
        {"type": "text", "text": "first part"},
        {"type": "image", "source": {"type": "base64", "data": "AA=="}},
        {"type": "text", "text": "second part", "cache_control": {"type": "ephemeral"}},
    ]
    key = conversation_key({}, payload(blocks))
    assert key == fingerprint("first part\nsecond part")
    assert key == conversation_key({}, payload("first part\nsecond part"))


def test_it_gives_later_requests_of_a_conversation_the_same_key() -> None:
    first = payload("Refactor the parser")
    later = payload("Refactor the parser")
    later["messages"] += [
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "Now add tests"},
    ]
    assert conversation_key({}, first) == conversation_key({}, later)


def test_it_gives_different_first_messages_different_keys() -> None:
    assert conversation_key({}, payload("Refactor the parser")) != conversation_key(
        {}, payload("Refactor the lexer")
    )


def test_it_skips_messages_before_the_first_user_message() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "assistant", "content": "Hi!"},
            "not a message",
            {"role": "user", "content": "Real question"},
        ]
    }
    assert conversation_key({}, body) == fingerprint("Real question")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": None},
        {"messages": []},
        {"messages": [{"role": "assistant", "content": "only me"}]},
        {"messages": [{"role": "user", "content": ""}]},
        {"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]},
        {"messages": [{"role": "user", "content": 5}]},
    ],
    ids=[
        "no_messages",
        "null_messages",
        "empty_messages",
        "no_user_message",
        "empty_user_text",
        "no_text_blocks",
        "content_not_text",
    ],
)
def test_it_returns_an_empty_key_when_there_is_nothing_to_go_on(body: dict[str, Any]) -> None:
    assert conversation_key({}, body) == ""


def test_it_returns_an_empty_key_without_header_or_body() -> None:
    assert conversation_key({}, None) == ""


def test_it_parses_session_ids_from_user_ids_directly() -> None:
    assert session_from_user_id(orjson.dumps({"session_id": SESSION}).decode()) == SESSION
    assert session_from_user_id(LEGACY_USER_ID) == SESSION
    assert session_from_user_id(None) is None


def test_it_reads_only_the_first_user_message_text() -> None:
    body = {"messages": [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]}
    assert first_user_text(body) == "one"
