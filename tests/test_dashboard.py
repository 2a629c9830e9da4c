"""The dashboard pages: staff only, empty and full databases, filters, safe rendering."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from requestlog.conversation_links import key_to_segment
from requestlog.dashboard import queries
from requestlog.models import RequestLog

# A 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def log_row(**overrides: Any) -> dict[str, Any]:
    """A complete request-log row as the gateway writes it; override any field."""
    started = overrides.pop("started_at", None) or datetime.now(UTC)
    prompt = overrides.pop("prompt", "Write a haiku about routers")
    answer = overrides.pop("answer", "Packets find their way")
    request = {
        "model": overrides.get("requested_model", "claude-sonnet-4-5"),
        "max_tokens": 1024,
        "system": "You are a helpful assistant.",
        "messages": [{"role": "user", "content": prompt}],
        "stream": overrides.get("stream", True),
    }
    response = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": answer}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 12, "output_tokens": 5},
    }
    row: dict[str, Any] = {
        "request_id": "sbreq_" + uuid.uuid4().hex,
        "started_at": started,
        "finished_at": started + timedelta(milliseconds=1234),
        "endpoint": "messages",
        "method": "POST",
        "path": "/v1/messages",
        "client_ip": "127.0.0.1",
        "user_agent": "claude-cli/2.0.0 (external, cli)",
        "requested_model": "claude-sonnet-4-5",
        "provider": "anthropic",
        "account": "main",
        "target_model": "claude-sonnet-4-5",
        "route": "default",
        "route_reason": "the default provider",
        "subagent": "",
        "stream": True,
        "status": 200,
        "outcome": "completed",
        "attempts": [
            {
                "provider": "anthropic",
                "account": "main",
                "model": "claude-sonnet-4-5",
                "status": 200,
                "error": "",
                "ms": 1200,
            }
        ],
        "latency_ms": 1234,
        "ttfb_ms": 321,
        "input_tokens": 12,
        "output_tokens": 5,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 100,
        "tools_offered": [],
        "tool_calls": [],
        "cost_usd": Decimal("0.00123"),
        "request_headers": {"x-api-key": "[redacted]", "user-agent": "claude-cli/2.0.0"},
        "request_body": orjson.dumps(request).decode(),
        "response_body": orjson.dumps(response).decode(),
        "upstream_request_body": "",
        "upstream_response_body": "",
        "conversation_key": "session-1",
        "notes": [],
    }
    row.update(overrides)
    return row


def add_rows(*rows: dict[str, Any]) -> list[RequestLog]:
    return RequestLog.objects.bulk_create([RequestLog(**row) for row in rows])


@pytest.fixture
def staff(client, db):
    """An operator: staff with every permission of routing and requestlog."""
    user = User.objects.create_user("operator", password="pw-for-tests-only", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["routing", "requestlog"])
    )
    client.force_login(user)
    return client


def page_urls() -> list[str]:
    return ["/", "/requests/sbreq_x/", "/conversations/", "/conversations/k/", "/usage/"]


# --- access --------------------------------------------------------------------------
@pytest.mark.parametrize("url", page_urls())
def test_anonymous_visitors_are_sent_to_the_admin_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("url", page_urls())
def test_signed_in_users_who_are_not_staff_are_refused(client, db, url):
    client.force_login(User.objects.create_user("someone", password="pw-for-tests-only"))
    assert client.get(url).status_code == 403


# --- empty database -----------------------------------------------------------------
@pytest.mark.parametrize("url", ["/", "/conversations/", "/usage/"])
def test_every_page_renders_on_an_empty_database(staff, url):
    for period in ("24h", "7d", "30d", "90d"):
        response = staff.get(url, {"period": period} if url == "/usage/" else {})
        assert response.status_code == 200
    content = response.content.decode()
    assert "Switchboard" in content
    assert "/admin/routing/provider/" in content  # the routing links in the nav


def test_the_empty_request_list_explains_how_rows_arrive(staff):
    assert "No requests yet" in staff.get("/").content.decode()


def test_unknown_requests_and_conversations_are_404(staff):
    assert staff.get("/requests/sbreq_missing/").status_code == 404
    assert staff.get("/conversations/missing/").status_code == 404


# --- the request list -----------------------------------------------------------------
def test_the_list_shows_rows_newest_first_with_their_columns(staff):
    now = datetime.now(UTC)
    old, new = add_rows(
        log_row(started_at=now - timedelta(minutes=5), requested_model="claude-old"),
        log_row(
            started_at=now,
            requested_model="claude-haiku-4-5",
            target_model="gpt-4.1-mini",
            provider="openai",
            route="subagent",
            subagent="code-reviewer",
            cost_usd=Decimal("0.5"),
        ),
    )
    content = staff.get("/").content.decode()
    assert content.index(new.request_id) < content.index(old.request_id)
    for text in ("claude-haiku-4-5", "gpt-4.1-mini", "openai", "code-reviewer", "$0.5000"):
        assert text in content
    assert "1.23 s" in content and "321 ms" in content  # latency, time to first byte
    assert 'data-ws-path="/ws/requests/"' in content


def test_the_list_page_never_counts_the_table_and_loads_no_bodies(staff):
    add_rows(*(log_row() for _ in range(3)))
    with CaptureQueriesContext(connection) as queries:
        assert staff.get("/").status_code == 200
    sql = " ".join(query["sql"] for query in queries.captured_queries).upper()
    assert "COUNT(" not in sql
    assert "REQUEST_BODY" not in sql and "RESPONSE_BODY" not in sql
    assert " LIMIT " in sql


def _ids(client, **params: str) -> set[str]:
    response = client.get("/", params)
    assert response.status_code == 200
    return {row["request_id"] for row in response.context["rows"]}


def test_filters_narrow_the_list(staff):
    now = datetime.now(UTC)
    base = add_rows(log_row(started_at=now - timedelta(hours=3)))[0]
    other = add_rows(
        log_row(
            provider="openrouter",
            requested_model="claude-haiku-4-5",
            target_model="deepseek-chat",
            subagent="tester",
            route="rule",
            stream=False,
            status=529,
            outcome="upstream_error",
            error_type="overloaded_error",
            error_message="Overloaded",
            conversation_key="session-2",
            prompt="find the needle in the haystack",
        )
    )[0]
    everything = {base.request_id, other.request_id}
    assert _ids(staff) == everything
    assert _ids(staff, provider="openrouter") == {other.request_id}
    assert _ids(staff, model="deepseek-chat") == {other.request_id}  # served model
    assert _ids(staff, model="claude-haiku-4-5") == {other.request_id}  # requested model
    assert _ids(staff, subagent="tester") == {other.request_id}
    assert _ids(staff, route="default") == {base.request_id}
    assert _ids(staff, status="5xx") == {other.request_id}
    assert _ids(staff, status="2xx") == {base.request_id}
    assert _ids(staff, status="529") == {other.request_id}
    assert _ids(staff, stream="0") == {other.request_id}
    assert _ids(staff, stream="1") == {base.request_id}
    assert _ids(staff, error="1") == {other.request_id}
    assert _ids(staff, error="0") == {base.request_id}
    assert _ids(staff, conversation="session-2") == {other.request_id}
    assert _ids(staff, q="NEEDLE in the") == {other.request_id}
    assert _ids(staff, q="Packets find") == everything  # answers are searched too
    since = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert _ids(staff, since=since) == {other.request_id}
    assert _ids(staff, until=since) == {base.request_id}
    assert _ids(staff, provider="anthropic", stream="0") == set()


def test_a_search_without_a_start_time_reads_only_the_newest_requests(staff, monkeypatch):
    monkeypatch.setattr(queries, "SEARCH_WINDOW_ROWS", 2)
    now = datetime.now(UTC)
    _old, middle, new = add_rows(
        *(log_row(started_at=now - timedelta(minutes=m), prompt="needle") for m in (30, 20, 10))
    )
    response = staff.get("/", {"q": "needle"})
    assert {row["request_id"] for row in response.context["rows"]} == {
        middle.request_id,
        new.request_id,
    }
    assert "Searched the newest 2 requests" in response.content.decode()
    since = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert len(_ids(staff, q="needle", since=since)) == 3


def test_an_invalid_filter_is_reported_and_ignored(staff):
    add_rows(log_row())
    response = staff.get("/", {"status": "abc", "since": "yesterday"})
    assert response.status_code == 200
    assert len(response.context["rows"]) == 1
    assert "(ignored)" in response.content.decode()


def test_older_pages_follow_a_keyset_cursor_without_gaps_or_repeats(staff):
    now = datetime.now(UTC)
    # Two rows share a timestamp across the page boundary: the id breaks the tie.
    times = [now - timedelta(seconds=i) for i in range(60)] + [now - timedelta(seconds=49)]
    add_rows(*(log_row(started_at=t) for t in times))
    seen: list[str] = []
    url = "/"
    while url:
        response = staff.get(url)
        seen += [row["request_id"] for row in response.context["rows"]]
        older = response.context["older_url"]
        url = "/" + older if older else ""
    assert len(seen) == len(set(seen)) == 61
    assert response.context["live"] is False  # an older page is not live


def test_live_updates_follow_the_filters_the_browser_can_check(staff):
    content = staff.get("/", {"provider": "anthropic", "status": "5xx"}).content.decode()
    assert '<script id="live-filters" type="application/json">' in content
    assert '"provider": "anthropic"' in content and '"status": "5xx"' in content
    assert 'data-live="1"' in content
    # The browser cannot search bodies, so a search result is not live.
    assert 'data-live="0"' in staff.get("/", {"q": "x"}).content.decode()


# --- request detail -----------------------------------------------------------------
SCRIPT = "<script>alert('owned')</script>"


def test_the_detail_escapes_html_everywhere(staff):
    [row] = add_rows(
        log_row(
            prompt=f"Explain {SCRIPT} please",
            answer=f"Sure: {SCRIPT}",
            route_reason=SCRIPT,
            error_message=SCRIPT,
            error_type="api_error",
            notes=[SCRIPT],
            request_headers={"x-evil": SCRIPT},
            subagent=SCRIPT,
        )
    )
    content = staff.get(f"/requests/{row.request_id}/").content.decode()
    assert "<script>alert" not in content
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in content
    list_page = staff.get("/").content.decode()
    assert "<script>alert" not in list_page


def test_the_detail_renders_the_conversation_tools_images_and_thinking(staff):
    request = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 2048,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "text/html", "data": PNG},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Let me list the files.", "signature": "s"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "Bash",
                        "input": {"command": "ls -la", "description": "List files"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "README.md\nsetup.py"}],
                    }
                ],
            },
        ],
    }
    response = {
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "text", "text": "A tiny transparent pixel."},
            {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"file_path": "/a"}},
        ],
        "stop_reason": "tool_use",
    }
    [row] = add_rows(
        log_row(
            request_body=orjson.dumps(request).decode(),
            response_body=orjson.dumps(response).decode(),
            upstream_request_body='{"upstream": true}',
            tools_offered=["Bash"],
            tool_calls=["Read"],
            notes=["dropped top_k"],
            attempts=[
                {
                    "provider": "a",
                    "account": "k1",
                    "model": "m",
                    "status": 529,
                    "error": "overloaded",
                    "ms": 80,
                },
                {
                    "provider": "b",
                    "account": "",
                    "model": "m2",
                    "status": 200,
                    "error": "",
                    "ms": 900,
                },
            ],
        )
    )
    content = staff.get(f"/requests/{row.request_id}/").content.decode()
    assert f'src="data:image/png;base64,{PNG}"' in content
    assert "data:text/html" not in content  # an image claiming another type is not shown
    assert "tool call <strong>Bash</strong>" in content
    assert "&quot;command&quot;: &quot;ls -la&quot;" in content  # pretty-printed input
    assert "tool result" in content and "README.md\nsetup.py" in content
    assert '<details class="block block-thinking"><summary>thinking' in content
    assert "Let me list the files." in content
    assert "A tiny transparent pixel." in content and "stop reason: tool_use" in content
    assert "You are Claude Code." in content
    assert "dropped top_k" in content and "overloaded" in content and "80 ms" in content
    assert "Upstream request" in content and "&quot;upstream&quot;: true" in content
    assert "[redacted]" in content


def test_a_body_cut_by_the_size_cap_still_shows_the_messages_before_the_cut(staff):
    full = orjson.dumps(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "first answer"},
                {"role": "user", "content": "x" * 500},
            ],
        }
    ).decode()
    [row] = add_rows(log_row(request_body=full[:-200] + "…[truncated 300 bytes]"))
    content = staff.get(f"/requests/{row.request_id}/").content.decode()
    assert "first question" in content and "first answer" in content
    assert "cut at the log size limit" in content


def test_the_detail_links_the_turns_of_its_conversation(staff):
    now = datetime.now(UTC)
    first, second, third = add_rows(
        *(log_row(started_at=now + timedelta(seconds=i), conversation_key="s") for i in range(3))
    )
    content = staff.get(f"/requests/{second.request_id}/").content.decode()
    assert f"/requests/{first.request_id}/" in content
    assert f"/requests/{third.request_id}/" in content
    assert "/conversations/s/" in content


# --- conversations ----------------------------------------------------------------------
def test_conversations_are_listed_with_their_first_prompt_and_totals(staff):
    now = datetime.now(UTC)
    add_rows(
        log_row(started_at=now - timedelta(minutes=3), conversation_key="a", prompt="Fix the bug"),
        log_row(started_at=now - timedelta(minutes=2), conversation_key="a", prompt="Fix the bug"),
        log_row(started_at=now - timedelta(minutes=1), conversation_key="b", prompt="Add tests"),
    )
    response = staff.get("/conversations/")
    content = response.content.decode()
    assert content.index("Add tests") < content.index("Fix the bug")  # most recent first
    assert [row["turns"] for row in response.context["rows"]] == ["1", "2"]
    assert "/conversations/a/" in content


ODD_KEYS = [
    "team/a b?c#<d>",
    "line one\nline two/../x?y",
    "50%25 off #1",
    "../..",
    ".",
    "~not-encoded",
    "sitzung-ü-会話-🙂",
    "k" * 99 + "\n",
]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_conversation_keys_from_headers_may_hold_any_character(staff, key):
    row = add_rows(log_row(conversation_key=key, answer="odd key"))[0]
    url = "/conversations/" + key_to_segment(key) + "/"

    listing = staff.get("/conversations/")
    detail = staff.get(f"/requests/{row.request_id}/")
    page = staff.get(url)

    assert listing.status_code == 200 and url in listing.content.decode()
    assert detail.status_code == 200 and url in detail.content.decode()
    assert page.status_code == 200 and "odd key" in page.content.decode()
    assert RequestLog.objects.get(pk=row.pk).conversation_key == key  # stored as it came


def test_a_plain_conversation_key_is_its_own_url(staff):
    key = "2f0c7a52-8c1e-4a35-9d1b-0b6a1c9e1d2f"
    add_rows(log_row(conversation_key=key, answer="plain key"))
    assert f"/conversations/{key}/" in staff.get("/conversations/").content.decode()
    assert "plain key" in staff.get(f"/conversations/{key}/").content.decode()


@pytest.mark.parametrize("segment", ["~", "~!!", "~YQ=", "~YWI", "a/b", "%0A"])
def test_a_segment_that_is_no_key_is_not_found(staff, segment):
    add_rows(log_row(conversation_key="ab"))  # ~YWI would be "ab", but "ab" is plain
    assert staff.get(f"/conversations/{segment}/").status_code == 404


def test_a_conversation_lists_its_turns_with_answers(staff):
    now = datetime.now(UTC)
    add_rows(
        log_row(started_at=now, conversation_key="k", answer="first reply"),
        log_row(started_at=now + timedelta(seconds=1), conversation_key="k", answer="2nd reply"),
        log_row(conversation_key="other", answer="not this one"),
    )
    response = staff.get("/conversations/k/")
    content = response.content.decode()
    assert response.status_code == 200
    assert content.index("first reply") < content.index("2nd reply")
    assert "not this one" not in content


# --- usage -----------------------------------------------------------------------------
def test_usage_draws_charts_and_breakdowns(staff):
    now = datetime.now(UTC)
    add_rows(
        log_row(started_at=now - timedelta(days=1), provider="openai", target_model="gpt-4.1"),
        log_row(started_at=now, subagent="reviewer", latency_ms=4000),
        log_row(started_at=now, status=500, outcome="gateway_error", latency_ms=10),
    )
    content = staff.get("/usage/").content.decode()
    assert content.count('<svg class="chart') == 7
    assert '<rect class="bar"' in content and "<polyline" in content
    for text in ("gpt-4.1", "reviewer", "main agent", "openai", "33.3%"):
        assert text in content
    assert "No requests in this period" not in content
    hourly = staff.get("/usage/", {"period": "24h"}).content.decode()
    assert '<rect class="bar"' in hourly


# --- static files ------------------------------------------------------------------------
def _status(client, url: str) -> int:
    response = client.get(url)
    response.close()  # a file response holds the file open
    return response.status_code


def test_static_files_are_served_for_the_dashboard_and_the_admin(client, db):
    script = client.get("/static/js/requests.js")
    assert b"WebSocket" in b"".join(script.streaming_content)
    assert script["Cache-Control"] == "no-cache"
    script.close()
    assert _status(client, "/static/css/dashboard.css") == 200
    assert _status(client, "/static/admin/css/base.css") == 200
    assert _status(client, "/static/missing.css") == 404
    assert _status(client, "/static/../manage.py") == 404
    assert _status(client, "/static/%2e%2e/manage.py") == 404
    assert _status(client, "/static/admin/../../../../manage.py") == 404
