"""A scripted Anthropic upstream for Claude Code's main conversation.

`MainAgentScript` is a FakeUpstream behaviour (set it as the default) that reads
each request and answers as a model steering the CLI would:

- `HEAD /` (the CLI's reachability preflight): 200, empty.
- `POST .../messages/count_tokens`: a token count.
- the main agent's turn (its tools include the subagent tool, `Agent` or the
  older `Task`): one tool_use calling that tool with `subagent_type`;
- the turn that carries that call's tool_result: the final text, `end_turn`;
- anything else (title, quota or other side requests): a short text answer.

Streaming or not follows the request's `stream` flag (AnthropicMessage does both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.upstream import AnthropicMessage, JSONResponse, Raw, ReceivedRequest

#: Names of Claude Code's subagent tool, newest first (`Task` before 2.1.x renamed it).
SUBAGENT_TOOLS = ("Agent", "Task")
COUNT_TOKENS_SUFFIX = "/count_tokens"


def body_of(received: ReceivedRequest) -> dict[str, Any]:
    try:
        data = received.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def tool_names(body: dict[str, Any]) -> list[str]:
    return [t.get("name", "") for t in body.get("tools") or () if isinstance(t, dict)]


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every tool_result block in the request's messages."""
    found = []
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            found += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return found


def system_texts(body: dict[str, Any]) -> list[str]:
    system = body.get("system")
    if isinstance(system, str):
        return [system]
    if isinstance(system, list):
        return [b.get("text", "") for b in system if isinstance(b, dict)]
    return []


@dataclass
class MainAgentScript:
    """Steers the main agent into calling one subagent, then ends the turn."""

    subagent_type: str
    prompt: str
    description: str = "Review a file"
    final_text: str = "DONE-MAIN"
    side_text: str = "Side answer"
    tool_use_id: str = "toolu_switchboard_subagent_1"

    def classify(self, received: ReceivedRequest) -> str:
        """'preflight', 'count_tokens', 'final', 'delegate' or 'side'."""
        if received.method != "POST":
            return "preflight"
        if received.path.endswith(COUNT_TOKENS_SUFFIX):
            return "count_tokens"
        body = body_of(received)
        if any(r.get("tool_use_id") == self.tool_use_id for r in tool_results(body)):
            return "final"
        if any(name in SUBAGENT_TOOLS for name in tool_names(body)):
            return "delegate"
        return "side"

    def subagent_tool(self, received: ReceivedRequest) -> str:
        names = tool_names(body_of(received))
        return next(name for name in SUBAGENT_TOOLS if name in names)

    async def respond(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        kind = self.classify(received)
        if kind == "preflight":
            return await Raw(b"").respond(request, received)
        if kind == "count_tokens":
            return await JSONResponse({"input_tokens": 42}).respond(request, received)
        if kind == "final":
            return await AnthropicMessage(self.final_text).respond(request, received)
        if kind == "delegate":
            call = {
                "type": "tool_use",
                "id": self.tool_use_id,
                "name": self.subagent_tool(received),
                "input": {
                    "subagent_type": self.subagent_type,
                    "description": self.description,
                    "prompt": self.prompt,
                },
            }
            answer = AnthropicMessage(content=[call], stop_reason="tool_use")
            return await answer.respond(request, received)
        return await AnthropicMessage(self.side_text).respond(request, received)


def kinds(script: MainAgentScript, requests: Sequence[ReceivedRequest]) -> list[str]:
    """How `script` classified each of `requests` (for failure messages)."""
    return [f"{r.method} {r.path}: {script.classify(r)}" for r in requests]
