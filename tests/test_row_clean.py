"""requestlog.row_clean: what the database refuses is replaced, nothing else is touched."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import orjson
import pytest

from requestlog.row_clean import REPLACEMENT, clean_json, clean_row, clean_text, text_is_clean


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("s\x00", "s" + REPLACEMENT),
        ("\x00a\x00", REPLACEMENT + "a" + REPLACEMENT),
        ("lone \ud800 high", f"lone {REPLACEMENT} high"),
        ("lone \udfff low", f"lone {REPLACEMENT} low"),
        ("both \x00 and \udc00 with é", f"both {REPLACEMENT} and {REPLACEMENT} with é"),
    ],
)
def test_it_replaces_nul_and_lone_surrogates_with_the_replacement_character(dirty, clean):
    assert not text_is_clean(dirty)
    assert clean_text(dirty) == clean


@pytest.mark.parametrize("text", ["", "plain ascii", "é ü 日本語 🙂", "tab\tnewline\n\x01"])
def test_it_returns_clean_text_unchanged_and_uncopied(text):
    assert text_is_clean(text)
    assert clean_text(text) is text


def test_a_cleaned_text_is_accepted_by_the_sqlite_driver():
    cleaned = clean_text("a\x00b\ud800c")
    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE t (x TEXT)")

    database.execute("INSERT INTO t VALUES (?)", (cleaned,))

    assert database.execute("SELECT x FROM t").fetchone() == (cleaned,)


def test_it_cleans_json_values_and_keys_at_any_depth():
    value = {"k\x00": ["a", {"deep": "s\ud800", "n": 1, "none": None}], "ok": True}

    cleaned = clean_json(value)

    assert cleaned == {
        "k" + REPLACEMENT: ["a", {"deep": "s" + REPLACEMENT, "n": 1, "none": None}],
        "ok": True,
    }
    assert orjson.dumps(cleaned)  # now valid UTF-8 throughout


def test_clean_row_changes_only_the_dirty_fields_and_names_them():
    started = datetime.now(UTC)
    headers = {"user-agent": "cli"}
    row = {
        "request_id": "r1",
        "started_at": started,
        "status": 200,
        "stream": False,
        "conversation_key": "s\x00",
        "request_headers": headers,
        "tools_offered": ["t\x00"],
        "attempts": [{"provider": "p", "error": "\udc80"}],
        "cost_usd": None,
    }

    changed = clean_row(row)

    assert sorted(changed) == ["attempts", "conversation_key", "tools_offered"]
    assert row["conversation_key"] == "s" + REPLACEMENT
    assert row["tools_offered"] == ["t" + REPLACEMENT]
    assert row["attempts"] == [{"provider": "p", "error": REPLACEMENT}]
    assert row["request_headers"] is headers  # clean: not copied
    assert row["started_at"] is started and row["status"] == 200 and row["cost_usd"] is None


def test_clean_row_on_a_clean_row_reports_nothing():
    row = {"request_id": "r1", "request_body": '{"model": "m"}', "notes": ["kept"]}

    assert clean_row(row) == []
    assert row == {"request_id": "r1", "request_body": '{"model": "m"}', "notes": ["kept"]}
