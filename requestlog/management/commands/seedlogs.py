"""Fill the request log with realistic fake rows, and measure the API on them.

For scale testing only: rows carry the request_id prefix `sbseed_` and small
bodies. `--measure` then times the API views through Django's test client
(middleware, DRF, JSON rendering: the server's share of a request) as a
temporary staff user, and prints the median of several runs per endpoint.

    SWITCHBOARD_DATA_DIR=/tmp/sb-1m python manage.py migrate
    SWITCHBOARD_DATA_DIR=/tmp/sb-1m python manage.py seedlogs --rows 1000000 --measure
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.utils import timezone

from requestlog import rollup_sql
from requestlog.fast_insert import RowInserter
from requestlog.management.commands.prunelogs import refresh_planner_statistics
from requestlog.models import Outcome, RequestLog
from requestlog.pricing import cost_for

SEED_PREFIX = "sbseed_"
MEASURE_USER = "seedlogs-measure"
MEASURE_RUNS = 5

# (provider, weight, served models with weights)
PROVIDERS = [
    (
        "anthropic",
        60,
        [("claude-sonnet-4-5-20250929", 6), ("claude-opus-4-5", 2), ("claude-haiku-4-5", 4)],
    ),
    ("openai", 15, [("gpt-5", 3), ("gpt-4.1-mini", 2), ("o4-mini", 1)]),
    ("openrouter", 10, [("deepseek/deepseek-chat", 2), ("qwen/qwen3-coder", 1)]),
    ("bedrock", 10, [("claude-sonnet-4-20250514", 3), ("claude-3-5-haiku-20241022", 1)]),
    ("groq", 5, [("llama-3.3-70b-versatile", 1)]),
]
REQUESTED = ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5", "claude-3-5-haiku-latest"]
SUBAGENTS = [
    ("", 70),
    ("code-reviewer", 10),
    ("test-runner", 8),
    ("explorer", 7),
    ("docs-writer", 5),
]
# (status, outcome, error type, weight in ten thousandths)
STATUSES = [
    (200, Outcome.COMPLETED, "", 9400),
    (200, Outcome.UPSTREAM_ERROR, "api_error", 50),  # broke mid-stream
    (400, Outcome.CLIENT_ERROR, "invalid_request_error", 100),
    (429, Outcome.UPSTREAM_ERROR, "rate_limit_error", 200),
    (499, Outcome.CANCELLED, "", 50),
    (500, Outcome.UPSTREAM_ERROR, "api_error", 50),
    (502, Outcome.UPSTREAM_ERROR, "api_error", 50),
    (504, Outcome.GATEWAY_ERROR, "timeout_error", 50),
    (529, Outcome.UPSTREAM_ERROR, "overloaded_error", 50),
]
TOPICS = [
    "refactor the payment service",
    "write tests for the parser",
    "explain this stack trace",
    "add pagination to the API",
    "fix the flaky websocket test",
    "migrate the settings to environment variables",
    "review the pull request about caching",
    "speed up the SQL query on the dashboard",
    "translate the error messages",
    "document the deployment steps",
]
WORDS = "the a module function class request response error cache token stream model".split()
TOOLS = ["Bash", "Read", "Edit", "Grep", "Glob", "Write", "Task", "WebFetch"]


def weighted(rng: random.Random, items: list[tuple[Any, int]]) -> Any:
    return rng.choices([item for item, _ in items], weights=[w for _, w in items])[0]


@dataclass
class Conversation:
    key: str
    topic: str
    subagent: str
    turns_left: int


class RowFactory:
    """Makes log rows in time order, with conversations that live for a while."""

    ACTIVE_CONVERSATIONS = 25

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.active: list[Conversation] = []

    def conversation(self) -> Conversation:
        rng = self.rng
        if len(self.active) < self.ACTIVE_CONVERSATIONS or rng.random() < 0.02:
            self.active.append(
                Conversation(
                    key=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    topic=rng.choice(TOPICS),
                    subagent=weighted(rng, SUBAGENTS),
                    turns_left=rng.randint(2, 80),
                )
            )
        convo = rng.choice(self.active)
        convo.turns_left -= 1
        if convo.turns_left <= 0:
            self.active.remove(convo)
        return convo

    def row(self, started_at: datetime) -> dict[str, Any]:
        rng = self.rng
        convo = self.conversation()
        provider, _, models = weighted(rng, [(p, p[1]) for p in PROVIDERS])
        target = weighted(rng, models)
        requested = target if provider == "anthropic" else rng.choice(REQUESTED)
        route = (
            "subagent"
            if convo.subagent
            else weighted(rng, [("default", 60), ("alias", 15), ("rule", 15), ("sticky", 10)])
        )
        count_tokens = rng.random() < 0.08
        status, outcome, error_type, _ = weighted(rng, [(s, s[3]) for s in STATUSES])
        if count_tokens:
            status, outcome, error_type = 200, Outcome.COMPLETED, ""
        stream = not count_tokens and rng.random() < 0.85
        ok = outcome == Outcome.COMPLETED
        latency = int(rng.lognormvariate(8.0, 0.9)) if not count_tokens else rng.randint(20, 300)
        ttfb = int(latency * rng.uniform(0.05, 0.4)) if stream and status == 200 else None
        input_tokens = rng.randint(1, 4000) if status == 200 else 0
        cache_read = rng.choice([0, rng.randint(1000, 120_000)]) if status == 200 else 0
        cache_write = rng.choice([0, 0, rng.randint(100, 8000)]) if status == 200 else 0
        output_tokens = rng.randint(1, 4000) if ok and not count_tokens else 0
        tools = rng.sample(TOOLS, k=rng.randint(0, len(TOOLS)))
        tool_calls = rng.sample(tools, k=min(len(tools), rng.randint(0, 2))) if ok else []
        prompt = f"Please {convo.topic}: " + " ".join(rng.choices(WORDS, k=12))
        answer = f"Here is how to {convo.topic}. " + " ".join(rng.choices(WORDS, k=30))
        row: dict[str, Any] = {
            "request_id": SEED_PREFIX + uuid.uuid4().hex,  # unique across seeded runs too
            "started_at": started_at,
            "finished_at": started_at + timedelta(milliseconds=latency),
            "endpoint": "count_tokens" if count_tokens else "messages",
            "method": "POST",
            "path": "/v1/messages/count_tokens" if count_tokens else "/v1/messages",
            "client_ip": "127.0.0.1",
            "user_agent": "claude-cli/2.0.14 (external, cli)",
            "requested_model": requested,
            "provider": provider,
            "account": "main",
            "target_model": target,
            "route": route,
            "route_reason": f"{route}: {requested} -> {provider}:{target}",
            "subagent": convo.subagent,
            "stream": stream,
            "status": status,
            "outcome": outcome,
            "error_type": error_type,
            "error_message": f"{error_type} from {provider}" if error_type else "",
            "attempts": [
                {
                    "provider": provider,
                    "account": "main",
                    "model": target,
                    "status": status,
                    "error": error_type,
                    "ms": latency,
                }
            ],
            "latency_ms": latency,
            "ttfb_ms": ttfb,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "tools_offered": tools,
            "tool_calls": tool_calls,
            "request_headers": {"user-agent": "claude-cli/2.0.14", "x-api-key": "[redacted]"},
            "request_body": orjson.dumps(
                {
                    "model": requested,
                    "max_tokens": 32000,
                    "stream": stream,
                    "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
                }
            ).decode(),
            "response_body": orjson.dumps(
                {
                    "type": "message",
                    "role": "assistant",
                    "model": target,
                    "content": [{"type": "text", "text": answer}],
                    "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
                }
            ).decode()
            if ok and not count_tokens
            else "",
            "upstream_request_body": "",
            "upstream_response_body": "",
            "conversation_key": "" if rng.random() < 0.03 else convo.key,
            "notes": [],
        }
        row["cost_usd"] = cost_for(row)
        return row


def seed_rows(rows: int, days: float, rng: random.Random) -> Iterator[dict[str, Any]]:
    """`rows` rows spread evenly (with jitter) over the last `days` days, oldest first."""
    end = timezone.now()
    span = timedelta(days=days)
    step = span / max(rows, 1)
    factory = RowFactory(rng)
    start = end - span
    for index in range(rows):
        yield factory.row(start + step * index + step * rng.random())


class Command(BaseCommand):
    help = "Insert fake request log rows for scale testing; --measure times the API on them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=10_000, help="Rows to insert.")
        parser.add_argument("--days", type=float, default=30, help="Spread over the last N days.")
        parser.add_argument("--batch", type=int, default=10_000, help="Rows per INSERT batch.")
        parser.add_argument("--seed", type=int, default=None, help="Random seed (repeatable).")
        parser.add_argument("--measure", action="store_true", help="Then time the API endpoints.")
        parser.add_argument(
            "--runs", type=int, default=MEASURE_RUNS, help="Timed runs per endpoint."
        )

    def handle(self, *args, **options) -> None:
        rows, days, batch = options["rows"], options["days"], options["batch"]
        if rows < 0 or batch < 1 or days <= 0:
            raise CommandError("--rows must be >= 0, --batch >= 1 and --days > 0")
        rng = random.Random(options["seed"])
        if rows:
            self.insert(rows, days, batch, rng)
            refresh_planner_statistics(self.stdout)
        if options["measure"]:
            self.measure(options["runs"])

    def insert(self, rows: int, days: float, batch: int, rng: random.Random) -> None:
        """Insert `rows` rows in batches, then recompute the rollups once.

        The rollup triggers are dropped while it inserts (a rebuild of a
        million rows takes seconds, the triggers' per-batch work minutes) and
        reinstalled by the rebuild, which also counts the rows anyone else
        logged meanwhile. If this stops halfway, `rebuildrollups` finishes it.
        """
        began = time.monotonic()
        writer = RowInserter(RequestLog)
        pending: list[dict[str, Any]] = []
        written = 0
        rollup_sql.drop_triggers(connection)
        for row in seed_rows(rows, days, rng):
            pending.append(row)
            if len(pending) >= batch:
                writer.insert(pending)
                written += len(pending)
                pending.clear()
                self.stdout.write(f"inserted {written}/{rows} rows")
        if pending:
            writer.insert(pending)
            written += len(pending)
        elapsed = time.monotonic() - began
        self.stdout.write(
            f"inserted {written} rows in {elapsed:.1f} s ({written / max(elapsed, 1e-9):,.0f}/s)"
        )
        call_command("rebuildrollups", stdout=self.stdout)

    # --- measuring -------------------------------------------------------------
    def measure(self, runs: int) -> None:
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username=MEASURE_USER, defaults={"is_staff": True, "is_superuser": True}
        )
        client = Client()
        client.force_login(user)
        try:
            self.stdout.write(f"{RequestLog.objects.count()} rows; median of {runs} runs:")
            for label, url in self.measured_urls(client):
                times = [self._time(client, url) for _ in range(runs)]
                self.stdout.write(f"  {statistics.median(times):8.1f} ms  {label}  {url}")
        finally:
            user.delete()

    def measured_urls(self, client: Client) -> list[tuple[str, str]]:
        newest = RequestLog.objects.order_by("-started_at", "-id").first()
        urls = [("requests list", "/api/requests/")]
        if newest is None:
            return urls
        first_page = client.get("/api/requests/").json()
        now = timezone.now()
        day_ago = (now - timedelta(days=1)).isoformat()
        month_ago = (now - timedelta(days=30)).isoformat()
        rare_model = "llama-3.3-70b-versatile"
        urls += [
            ("requests page 2", first_page["next"].replace("http://testserver", "")),
            ("requests by model", "/api/requests/?" + urlencode({"model": newest.target_model})),
            ("requests by rare model", "/api/requests/?" + urlencode({"model": rare_model})),
            ("requests 5xx", "/api/requests/?status=5xx"),
            (
                "requests 24h, errors",
                "/api/requests/?" + urlencode({"since": day_ago, "has_error": "true"}),
            ),
            ("request detail", f"/api/requests/{newest.request_id}/"),
            ("conversations", "/api/conversations/"),
        ]
        conversations_next = client.get("/api/conversations/").json()["next"]
        if conversations_next:
            urls.append(
                ("conversations page 2", conversations_next.replace("http://testserver", ""))
            )
        if newest.conversation_key:
            urls.append(("conversation", f"/api/conversations/{newest.conversation_key}/"))
        urls += [
            ("stats 24h by hour", "/api/stats/?" + urlencode({"since": day_ago})),
            ("stats 7d (default)", "/api/stats/"),
            ("stats 7d by provider", "/api/stats/?group_by=provider"),
            ("stats 7d by model", "/api/stats/?group_by=model"),
            ("stats 7d by subagent", "/api/stats/?group_by=subagent"),
            ("stats 30d by day", "/api/stats/?" + urlencode({"since": month_ago, "bucket": "day"})),
            (
                "stats 30d by day and provider",
                "/api/stats/?"
                + urlencode({"since": month_ago, "bucket": "day", "group_by": "provider"}),
            ),
            (
                "stats 30d by day, one provider",
                "/api/stats/?"
                + urlencode({"since": month_ago, "bucket": "day", "provider": newest.provider}),
            ),
            ("requests search", "/api/requests/?search=flaky"),
            ("requests by latency", "/api/requests/?ordering=-latency_ms"),
            ("dashboard: requests", "/"),
            ("dashboard: requests by model", "/?" + urlencode({"model": newest.target_model})),
            ("dashboard: request", f"/requests/{newest.request_id}/"),
            ("dashboard: conversations", "/conversations/"),
            *(
                (f"dashboard: usage {period}", f"/usage/?period={period}")
                for period in ("24h", "7d", "30d", "90d")
            ),
        ]
        return urls

    @staticmethod
    def _time(client: Client, url: str) -> float:
        began = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
        return elapsed
