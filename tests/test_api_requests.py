"""/api/requests/: filters, search, ordering, cursor pages, and the detail view."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from gateway.record import TRUNCATION_MARKER
from requestlog.api.views import REQUEST_ORDERINGS
from tests.logrows import T0, make_row, request_body, response_body
from tests.operators import log_reader_client as staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return staff_client()


def listed(api, query: str = "") -> list[str]:
    response = api.get(f"/api/requests/?{query}")
    assert response.status_code == 200, response.content
    return [row["request_id"] for row in response.json()["results"]]


# Each case: the query, fields of a row it must list, fields of a row it must not.
FILTER_CASES = [
    ("provider=openai", {"provider": "openai"}, {"provider": "anthropic"}),
    ("model=gpt-5", {"requested_model": "gpt-5"}, {"requested_model": "gpt-4o"}),
    (
        "model=gpt-5",
        {"requested_model": "claude-sonnet-4-5", "target_model": "gpt-5"},
        {"requested_model": "claude-sonnet-4-5", "target_model": "gpt-4o"},
    ),
    ("subagent=code-reviewer", {"subagent": "code-reviewer"}, {"subagent": ""}),
    ("route=rule", {"route": "rule"}, {"route": "alias"}),
    ("endpoint=count_tokens", {"endpoint": "count_tokens"}, {"endpoint": "messages"}),
    ("outcome=cancelled", {"outcome": "cancelled"}, {"outcome": "completed"}),
    ("status=4xx", {"status": 429}, {"status": 500}),
    ("status=4xx", {"status": 400}, {"status": 200}),
    ("status=5xx", {"status": 529}, {"status": 499}),
    ("status=2xx", {"status": 200}, {"status": 300}),
    ("status=429", {"status": 429}, {"status": 428}),
    ("stream=true", {"stream": True}, {"stream": False}),
    ("stream=false", {"stream": False}, {"stream": True}),
    (
        "has_error=true",
        {"status": 200, "outcome": "upstream_error"},
        {"status": 499, "outcome": "cancelled"},
    ),
    ("has_error=true", {"outcome": "gateway_error"}, {"outcome": "completed"}),
    ("has_error=false", {"outcome": "completed"}, {"outcome": "client_error"}),
    ("min_latency_ms=500", {"latency_ms": 500}, {"latency_ms": 499}),
    ("conversation=abc", {"conversation_key": "abc"}, {"conversation_key": "abcd"}),
    (
        "since=2026-01-10T12:00:00Z",
        {"started_at": T0},
        {"started_at": T0 - timedelta(microseconds=1)},
    ),
    (
        "until=2026-01-10T12:00:00Z",
        {"started_at": T0 - timedelta(microseconds=1)},
        {"started_at": T0},
    ),
    (
        "since=2026-01-10T13:00:00%2B01:00",  # an offset: 12:00 UTC
        {"started_at": T0},
        {"started_at": T0 - timedelta(seconds=1)},
    ),
    (
        "search=needle",
        {"request_body": request_body("find the NEEDLE here")},
        {"request_body": request_body("hay only")},
    ),
    (
        "search=needle",
        {"response_body": response_body("a needle in the answer")},
        {"response_body": response_body("nothing")},
    ),
    (
        "search=overloaded",
        {"error_message": "Overloaded upstream"},
        {"error_message": "rate limited"},
    ),
]


@pytest.mark.parametrize(("query", "matching", "other"), FILTER_CASES)
def test_it_filters_the_list(api, query, matching, other):
    wanted = make_row(**matching)
    make_row(**other)

    assert listed(api, query) == [wanted.request_id]


def test_it_combines_filters(api):
    wanted = make_row(provider="openai", status=429)
    make_row(provider="openai", status=200)
    make_row(provider="anthropic", status=429)

    assert listed(api, "provider=openai&status=4xx") == [wanted.request_id]


@pytest.mark.parametrize(
    "query",
    [
        "status=6xx",
        "status=20",
        "status=abc",
        "since=yesterday",
        "stream=maybe",
        "outcome=nope",
        "page_size=0",
        "page_size=ten",
    ],
)
def test_it_refuses_a_malformed_filter(api, query):
    response = api.get(f"/api/requests/?{query}")

    assert response.status_code == 400


def test_it_lists_newest_first_without_bodies(api):
    old = make_row(started_at=T0)
    new = make_row(started_at=T0 + timedelta(seconds=1))

    response = api.get("/api/requests/")
    rows = response.json()["results"]

    assert [row["request_id"] for row in rows] == [new.request_id, old.request_id]
    assert "request_body" not in rows[0]
    assert "response_body" not in rows[0]
    assert "request_headers" not in rows[0]
    assert rows[0]["url"].endswith(f"/api/requests/{new.request_id}/")


@pytest.mark.parametrize(
    ("ordering", "field", "values", "expected"),
    [
        ("latency_ms", "latency_ms", [300, 100, 200], [100, 200, 300]),
        ("-latency_ms", "latency_ms", [300, 100, 200], [300, 200, 100]),
        ("-ttfb_ms", "ttfb_ms", [None, 50, 70], [70, 50, None]),
        ("ttfb_ms", "ttfb_ms", [70, None, 50], [None, 50, 70]),
        (
            "-cost",
            "cost_usd",
            [Decimal("0.5"), None, Decimal("2")],
            ["2.00000000", "0.50000000", None],
        ),
        ("started_at", "latency_ms", [1, 2, 3], [1, 2, 3]),
    ],
)
def test_it_orders_by_the_requested_key(api, ordering, field, values, expected):
    for index, value in enumerate(values):
        make_row(started_at=T0 + timedelta(seconds=index), **{field: value})

    response = api.get(f"/api/requests/?ordering={ordering}")

    assert response.status_code == 200
    assert [row[field] for row in response.json()["results"]] == expected


def test_it_orders_by_total_tokens(api):
    make_row(input_tokens=10, output_tokens=10)  # 20
    make_row(input_tokens=1, cache_read_input_tokens=100)  # 101
    make_row(output_tokens=5, cache_creation_input_tokens=10)  # 15

    response = api.get("/api/requests/?ordering=-tokens")

    assert [row["total_tokens"] for row in response.json()["results"]] == [101, 20, 15]


def test_it_refuses_an_unknown_ordering(api):
    assert api.get("/api/requests/?ordering=request_body").status_code == 400


#: More pages than any test makes: a cursor that does not advance fails instead of looping.
MAX_PAGES = 50


def walk(api, url: str, between_pages=None) -> list[str]:
    """Follow `next` links to the end; call `between_pages()` after each page."""
    seen: list[str] = []
    for _ in range(MAX_PAGES):
        if not url:
            break
        response = api.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [row["request_id"] for row in body["results"]]
        url = body["next"]
        if between_pages:
            between_pages()
    else:
        raise AssertionError(f"still a next page after {MAX_PAGES} pages")
    return seen


def test_it_pages_without_duplicates_or_gaps_while_rows_arrive(api):
    # Ties on started_at are broken by id, so rows sharing a timestamp split cleanly.
    older = [make_row(started_at=T0 + timedelta(seconds=i // 3)) for i in range(25)]
    expected = [row.request_id for row in sorted(older, key=lambda r: (r.started_at, r.id))]
    expected.reverse()
    arrivals = iter(range(100))

    def insert_newer_rows() -> None:
        offset = next(arrivals)
        make_row(started_at=T0 + timedelta(hours=1, seconds=offset))
        make_row(started_at=T0 + timedelta(seconds=8))  # same time as the newest old rows

    seen = walk(api, "/api/requests/?page_size=4", between_pages=insert_newer_rows)

    assert seen[:4] == expected[:4]  # the first page was all old rows
    old_ids = set(expected)
    assert [rid for rid in seen if rid in old_ids] == expected
    assert len(seen) == len(set(seen))


def test_it_pages_a_sort_key_with_many_ties(api):
    rows = [
        make_row(latency_ms=100 * (i % 2), started_at=T0 + timedelta(seconds=i)) for i in range(9)
    ]

    seen = walk(api, "/api/requests/?page_size=2&ordering=-latency_ms")

    expected = sorted(rows, key=lambda r: (r.latency_ms, r.id), reverse=True)
    assert seen == [row.request_id for row in expected]


@pytest.mark.parametrize(
    "ordering", [*REQUEST_ORDERINGS, *(f"-{key}" for key in REQUEST_ORDERINGS)]
)
def test_every_sort_key_pages_through_ties_and_nulls_exactly(api, ordering):
    values = [
        (3, None, Decimal("0.5")),
        (1, 20, None),
        (3, 20, Decimal("0.5")),
        (2, None, None),
        (1, 10, Decimal("2")),
        (3, 30, Decimal("0.25")),
        (2, 20, Decimal("0.5")),
    ]
    rows = [
        make_row(
            started_at=T0 + timedelta(seconds=index // 2),  # ties in time too
            latency_ms=latency,
            ttfb_ms=ttfb,
            cost_usd=cost,
            input_tokens=latency * 10,
            output_tokens=ttfb or 0,
        )
        for index, (latency, ttfb, cost) in enumerate(values)
    ]
    key = {
        "started_at": lambda r: r.started_at,
        "latency_ms": lambda r: r.latency_ms,
        "ttfb_ms": lambda r: -1 if r.ttfb_ms is None else r.ttfb_ms,
        "tokens": lambda r: r.total_tokens,
        "cost": lambda r: r.cost_usd or Decimal(0),
    }[ordering.lstrip("-")]
    expected = sorted(rows, key=lambda r: (key(r), r.id), reverse=ordering.startswith("-"))

    seen = walk(api, f"/api/requests/?page_size=2&ordering={ordering}")

    assert seen == [row.request_id for row in expected]


def test_it_pages_back_with_the_previous_link(api):
    for i in range(6):
        make_row(started_at=T0 + timedelta(seconds=i))
    first = api.get("/api/requests/?page_size=2").json()
    second = api.get(first["next"]).json()
    make_row(started_at=T0 + timedelta(hours=1))  # a newer row meanwhile

    back = api.get(second["previous"]).json()

    assert first["previous"] is None
    assert [r["request_id"] for r in back["results"]] == [r["request_id"] for r in first["results"]]
    assert back["next"] is not None


def test_it_refuses_a_cursor_made_for_another_ordering(api):
    for i in range(3):
        make_row(started_at=T0 + timedelta(seconds=i))
    next_link = api.get("/api/requests/?page_size=1").json()["next"]

    response = api.get(next_link + "&ordering=latency_ms")

    assert response.status_code == 404


def test_it_refuses_a_garbled_cursor(api):
    assert api.get("/api/requests/?cursor=not-a-cursor").status_code == 404


def test_the_detail_parses_json_bodies_and_keeps_other_text(api):
    sse = 'event: message_start\ndata: {"type":"message_start"}\n\n'
    cut = '{"model": "claude' + TRUNCATION_MARKER.format(n=123)
    row = make_row(
        request_body=request_body("hi"),
        response_body=response_body("hello"),
        upstream_request_body=cut,
        upstream_response_body=sse,
        request_headers={"x-api-key": "[redacted]", "user-agent": "claude-cli"},
        attempts=[{"provider": "anthropic", "account": "main", "status": 529, "ms": 12}],
        notes=["dropped top_k"],
        ttfb_ms=42,
    )

    response = api.get(f"/api/requests/{row.request_id}/")
    body = response.json()

    assert response.status_code == 200
    assert body["request_body"]["messages"][0]["content"] == "hi"
    assert body["response_body"]["content"][0]["text"] == "hello"
    assert body["upstream_request_body"] == cut
    assert body["upstream_response_body"] == sse
    assert body["request_headers"] == {"x-api-key": "[redacted]", "user-agent": "claude-cli"}
    assert body["attempts"][0]["status"] == 529
    assert body["notes"] == ["dropped top_k"]
    assert (body["latency_ms"], body["ttfb_ms"]) == (1000, 42)


def test_the_detail_gives_null_for_an_empty_body(api):
    row = make_row(response_body="")

    assert api.get(f"/api/requests/{row.request_id}/").json()["response_body"] is None


def test_the_detail_of_an_unknown_request_is_404(api):
    assert api.get("/api/requests/sbreq_nope/").status_code == 404


def test_there_is_no_way_to_delete_or_write_log_rows(api):
    row = make_row()

    assert api.delete("/api/requests/").status_code == 405
    assert api.delete(f"/api/requests/{row.request_id}/").status_code == 405
    assert api.post("/api/requests/", {}, format="json").status_code == 405
    assert api.patch(f"/api/requests/{row.request_id}/", {}, format="json").status_code == 405
