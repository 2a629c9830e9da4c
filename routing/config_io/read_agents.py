"""The `agents` section: subagent definitions uploaded with the file rather than found on disk.

An agent is given either field by field (`name`, `body`, ...) or as the
whole agent file's text under `file:`, frontmatter and all.
"""

from __future__ import annotations

from typing import Any

from routing.agents import AgentFileError, normalise, parse_agent_file
from routing.config_io.document import AgentSpec
from routing.config_io.reader import Reader
from routing.config_io.schema import AGENT_KEYS
from routing.config_io.yaml_lines import At, LineDict
from routing.models import AgentDefinition


def read_agents(reader: Reader, value: Any, at: At) -> None:
    """Each agent, uniquely named, onto `reader.doc.agents`."""
    names: set[str] = set()
    for _, item, item_at in reader.items(value, at):
        data = reader.mapping(item, item_at, AGENT_KEYS)
        if data is None:
            continue
        agent = _read_agent(reader, data, item_at)
        if agent is None:
            continue
        if agent.name in names:
            reader.fail(item_at, f"duplicate agent {agent.name!r}")
        names.add(agent.name)
        reader.doc.agents.append(agent)


def _read_agent(reader: Reader, data: LineDict, at: At) -> AgentSpec | None:
    name_at = at.key(data, "name")
    name = reader.string(data.get("name"), name_at, model_field=(AgentDefinition, "name"))
    if "file" in data:
        if any(key in data for key in ("body", "description", "model", "tools")):
            reader.fail(at, "give file (the whole agent file) or body and its fields, not both")
            return None
        return _read_agent_file(reader, data["file"], at.key(data, "file"), name)
    if not name:
        reader.fail(name_at, "required")
    body = normalise(reader.string(data.get("body"), at.key(data, "body"), required=True))
    tools_at = at.key(data, "tools")
    tools_value = data.get("tools")
    if isinstance(tools_value, str):  # `tools: Read, Grep`, as in agent files
        tools = [tool.strip() for tool in tools_value.split(",") if tool.strip()]
    else:
        tools = [
            reader.string(tool, tool_at, required=True)
            for _, tool, tool_at in reader.items(tools_value, tools_at)
        ]
    description = reader.string(data.get("description"), at.key(data, "description"))
    declared_model = reader.string(
        data.get("model"),
        at.key(data, "model"),
        model_field=(AgentDefinition, "declared_model"),
    )
    if not name or not body:
        return None
    return AgentSpec(name, description, declared_model, tools, body)


def _read_agent_file(reader: Reader, value: Any, at: At, name: str) -> AgentSpec | None:
    text = reader.string(value, at, required=True)
    if not text:
        return None
    source = f"{name}.md" if name else ""
    try:
        parsed = parse_agent_file(text, source=source)
    except AgentFileError as exc:
        message = str(exc).removeprefix(f"{source or '<agent file>'}: ")
        if not text.startswith("---"):
            message += " (file: is the agent file's text, not its path)"
        reader.fail(at, message)
        return None
    if name and parsed.name != name:
        reader.fail(at, f"the file's frontmatter names {parsed.name!r}, not {name!r}")
        return None
    return AgentSpec(
        parsed.name, parsed.description, parsed.model or "", list(parsed.tools), parsed.body
    )
