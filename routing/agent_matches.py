"""Stamp agent definitions with the time a logged request last matched them.

Run by the log writer after each written batch (wired in `gateway.apps`,
since requestlog may not import routing): the admin's "last match" column
then follows the log without a write on the request path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from routing.models import AgentDefinition


def latest_match_per_agent(rows: list[dict[str, Any]]) -> dict[str, datetime]:
    """The latest start time per matched agent name; "(unknown subagent)" and the like
    (names in parentheses) are placeholders, not agents."""
    latest: dict[str, datetime] = {}
    for row in rows:
        name = row.get("subagent")
        started = row.get("started_at")
        if not name or name.startswith("(") or started is None:
            continue
        if name not in latest or started > latest[name]:
            latest[name] = started
    return latest


def note_agent_matches(rows: list[dict[str, Any]]) -> None:
    """Stamp `last_matched_at` on the agent definitions these rows matched.

    A queryset update, so no signal fires and the routing config is not reloaded.
    """
    for name, when in latest_match_per_agent(rows).items():
        AgentDefinition.objects.filter(name=name).update(last_matched_at=when)
