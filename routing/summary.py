"""What the router looks at, taken from one request (pure: no I/O, no Django)."""

from __future__ import annotations

from typing import Any

from providers.token_estimate import estimate_input_tokens
from routing.config import RoutingConfig
from routing.router import RequestSummary
from routing.subagents import SubagentMatch

UNKNOWN_SUBAGENT = "(unknown subagent)"


def summarize(
    payload: dict[str, Any], model: str, headers: dict[str, str], config: RoutingConfig
) -> tuple[RequestSummary, SubagentMatch | None]:
    """The router's view of a validated request, and how its subagent was recognised.

    `model` is the request's model as ingress read it (validation made it a string).
    """
    match = config.matcher.match(payload.get("system"), headers) if config.matcher else None
    agent = match.agent.name if match is not None and match.agent is not None else None
    offered = payload.get("tools")
    tools: list[Any] = offered if isinstance(offered, list) else []
    summary = RequestSummary(
        model=model,
        headers=headers,
        subagent=agent,
        is_subagent_call=bool(match and match.is_subagent_call),
        thinking=thinking_on(payload),
        input_tokens=estimate_input_tokens(payload),
        tools=tuple(
            str(name)
            for tool in tools
            if isinstance(tool, dict)
            for name in (tool.get("name"), tool.get("type"))
            if name
        ),
    )
    return summary, match


def subagent_label(summary: RequestSummary) -> str:
    """What the log shows: the agent's name, "(unknown subagent)", or nothing."""
    if summary.subagent:
        return summary.subagent
    return UNKNOWN_SUBAGENT if summary.is_subagent_call else ""


def thinking_on(payload: dict[str, Any]) -> bool:
    thinking = payload.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
