"""Conversations: log rows grouped by `conversation_key`, most recently active first.

Used by the API (`/api/conversations/`) and the dashboard. A page costs about
the log rows of its own time span, not the whole log: the page's keys are
found by reading the log newest first (`recent_conversation_keys`), then the
sums, models and first prompts are computed for those keys only. Pages are
keyset-paginated on (last activity, key), so a conversation that becomes
active while someone pages moves to the top instead of shifting the pages.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from django.db.models import Max, Min, Q, QuerySet

from providers.anthropic.user_text import first_user_text
from requestlog.models import RequestLog
from requestlog.stats import Counts, count_aggregates

#: Characters of the first prompt shown in a listing.
FIRST_PROMPT_CHARS = 200
#: Conversations per page by default.
DEFAULT_PAGE_SIZE = 50
#: Log rows read at first when looking for a page of conversations (doubled as needed).
SCAN_CHUNK = 1000

#: A position in the listing: the (last activity, key) of the last item seen.
Position = tuple[datetime, str]


@dataclass
class ConversationSummary:
    key: str
    first_prompt: str
    turns: int
    first_at: datetime
    last_at: datetime
    counts: Counts
    models: list[str] = field(default_factory=list)

    @property
    def position(self) -> Position:
        return (self.last_at, self.key)


def conversation_rows(rows: QuerySet[RequestLog] | None = None) -> QuerySet[RequestLog]:
    """The rows that belong to some conversation."""
    rows = RequestLog.objects.all() if rows is None else rows
    return rows.exclude(conversation_key="")


def recent_conversations(
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    after: Position | None = None,
    rows: QuerySet[RequestLog] | None = None,
) -> list[ConversationSummary]:
    """Up to `limit` conversations, most recently active first, after `after` if given."""
    page = recent_conversation_keys(limit=limit, after=after, rows=rows)
    summaries = summarize([key for _, key in page], rows=rows)
    return [summaries[key] for _, key in page if key in summaries]


def recent_conversation_keys(
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    after: Position | None = None,
    rows: QuerySet[RequestLog] | None = None,
) -> list[Position]:
    """(last activity, key) of up to `limit` conversations, newest activity first.

    Grouping the whole log by key to sort by last activity reads every row;
    instead the log is read newest first (the (started_at, conversation_key)
    index) in growing chunks until `limit` conversations are found whose last
    activity is in the part read, so a page costs about the rows of its own
    time span. `after` continues below a previous page's last position.
    """
    base = conversation_rows(rows)
    scan = base.order_by("-started_at", "-conversation_key").values_list(
        "started_at", "conversation_key"
    )
    if after is not None:
        scan = scan.filter(started_at__lte=after[0])
    found: dict[str, datetime] = {}
    looked_at: set[str] = set()
    floor: Q | None = None  # rows below the last one read
    chunk = SCAN_CHUNK
    while True:
        batch = list((scan if floor is None else scan.filter(floor))[:chunk])
        fresh = list(dict.fromkeys(key for _, key in batch if key not in looked_at))
        looked_at.update(fresh)
        found.update(_positions_below(base, fresh, after))
        if len(batch) < chunk:  # read to the end
            return sorted(((at, key) for key, at in found.items()), reverse=True)[:limit]
        # Every conversation last active after the last row's instant is known
        # now; at that very instant another row may still be unread.
        oldest, oldest_key = batch[-1]
        complete = sorted(((at, key) for key, at in found.items() if at > oldest), reverse=True)
        if len(complete) >= limit:
            return complete[:limit]
        floor = Q(started_at__lt=oldest) | Q(started_at=oldest, conversation_key__lt=oldest_key)
        chunk *= 2


def _positions_below(
    base: QuerySet[RequestLog], keys: list[str], after: Position | None
) -> dict[str, datetime]:
    """Last activity of each key, leaving out those a page before `after` showed."""
    if not keys:
        return {}
    last_activity = (
        base.filter(conversation_key__in=keys)
        .order_by()
        .values("conversation_key")
        .annotate(last_at=Max("started_at"))
        .values_list("conversation_key", "last_at")
    )
    return {
        key: last_at for key, last_at in last_activity if after is None or (last_at, key) < after
    }


def summarize(
    keys: list[str], *, rows: QuerySet[RequestLog] | None = None
) -> dict[str, ConversationSummary]:
    """Summaries of the given conversations (keys with no rows are left out)."""
    if not keys:
        return {}
    turns = conversation_rows(rows).filter(conversation_key__in=keys).order_by()
    sums = turns.values("conversation_key").annotate(
        first_at=Min("started_at"), last_at=Max("started_at"), **count_aggregates()
    )
    models: dict[str, set[str]] = defaultdict(set)
    for key, target, requested in turns.values_list(
        "conversation_key", "target_model", "requested_model"
    ).distinct():
        if target or requested:
            models[key].add(target or requested)
    summaries = {}
    for row in sums:
        key = row["conversation_key"]
        counts = Counts.from_row(row)
        summaries[key] = ConversationSummary(
            key=key,
            first_prompt="",
            turns=counts.requests,
            first_at=row["first_at"],
            last_at=row["last_at"],
            counts=counts,
            models=sorted(models[key]),
        )
    for key, body in _first_bodies(turns, summaries):
        summaries[key].first_prompt = first_prompt_text(body)
    return summaries


def _first_bodies(
    turns: QuerySet[RequestLog], summaries: dict[str, ConversationSummary]
) -> list[tuple[str, str]]:
    """The request body of each conversation's first row."""
    if not summaries:
        return []
    match = Q()
    for key, summary in summaries.items():
        match |= Q(conversation_key=key, started_at=summary.first_at)
    first: dict[str, str] = {}
    for key, body in (
        turns.filter(match)
        .order_by("started_at", "id")
        .values_list("conversation_key", "request_body")
    ):
        first.setdefault(key, body)
    return list(first.items())


def conversation_turns(key: str, rows: QuerySet[RequestLog] | None = None) -> QuerySet:
    """The rows of one conversation, oldest first."""
    return conversation_rows(rows).filter(conversation_key=key).order_by("started_at", "id")


def first_prompt_text(request_body: str, limit: int = FIRST_PROMPT_CHARS) -> str:
    """The first user message's own text in a logged request body, cut to `limit` characters.

    Text blocks Claude Code injects (system reminders, command caveats) are
    skipped; a body that is not JSON (cut by the size cap) gives "".
    """
    try:
        payload = orjson.loads(request_body)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(payload, dict):
        return ""
    text = first_user_text(payload, skip_injected=True).strip()
    if len(text) > limit:
        return text[: limit - 1].rstrip() + "…"
    return text
