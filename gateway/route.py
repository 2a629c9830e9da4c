"""The route stage: which provider and model serve the request (routing decides).

The subagent is matched first (and recorded even when no rule uses it), then
a turn that continues on a sticky lane keeps the lane's pinned target; any
other request is decided anew by `routing.router.decide`, a pure function
over the in-memory config snapshot. No database query on this path.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpResponse

from gateway.exchange import Exchange
from providers.errors import NoRouteAvailable
from routing import snapshot
from routing.config import RoutingConfig
from routing.router import NoRoute, decide
from routing.sticky import is_turn_continuation, lane_key, sticky_lanes
from routing.summary import subagent_label, summarize

#: The lane of requests that are not from a subagent.
MAIN_AGENT_LANE = "main"


async def routing_config() -> RoutingConfig:
    """The in-memory snapshot; only the very first request of a process loads it."""
    config = snapshot.current()
    if config is None:
        config = await sync_to_async(snapshot.load)()
    return config


async def choose_target(exchange: Exchange) -> HttpResponse | None:
    request = exchange.request
    assert request is not None, "ingress runs before routing"
    config = await routing_config()
    headers = exchange.header_map
    summary, _ = summarize(request.payload, request.model, headers, config)
    exchange.subagent_matched(subagent_label(summary))
    lane = lane_key(
        request.conversation_key,
        headers.get("x-claude-code-agent-id") or summary.subagent or MAIN_AGENT_LANE,
        request.model,
    )
    if is_turn_continuation(request.payload):
        pinned = sticky_lanes.get(lane, config.version)
        if pinned is not None:
            exchange.routed(
                pinned,
                "sticky",
                f"same turn as before, kept on {pinned.target}: {pinned.reason}",
            )
            return None
    try:
        decision = decide(summary, config)
    except NoRoute as exc:
        raise NoRouteAvailable(str(exc)) from None
    if decision.sticky:
        sticky_lanes.pin(lane, decision, config.version)
    exchange.routed(decision, decision.route, decision.reason)
    return None
