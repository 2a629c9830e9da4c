"""Which Claude Code subagent sent a request: system prompt -> known agent definition.

Claude Code 2.1.x sends `system` as text blocks: [0] a billing line
(`x-anthropic-billing-header: cc_version=...; cc_entrypoint=...;`, plus
`cc_is_subagent=true;` on subagent calls), [1] an identity line with
`cache_control`, [2] the main prompt or, for a subagent, the body of
`.claude/agents/NAME.md` verbatim followed by version-dependent dynamic text
(`Notes:`, environment info, ...). Subagent calls also carry the header
`x-claude-code-agent-id`.

Matching does not depend on that layout: a block (or a string `system`) whose
normalised text starts with an agent's normalised body names that agent, and
the longest such body wins. The Go claude-code-proxy's rule (exactly two
blocks; block [1] cut at the first `\\nNotes:`, trimmed and hashed) is kept as
a fallback so its old mappings still resolve.

What is lost: nothing is changed in the request; only the match is returned.
Pure Python, no Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from routing.agents import AgentDefinition, fingerprint, normalise

MatchMethod = Literal["prefix", "legacy-two-block", "none"]
#: An agent's body starts one of the system blocks (or the string system).
METHOD_PREFIX: Final = "prefix"
#: The Go claude-code-proxy's rule matched: see `static_prompt_before_notes`.
METHOD_LEGACY: Final = "legacy-two-block"
#: No known agent matched.
METHOD_NONE: Final = "none"

#: Request header Claude Code (>= 2.1.139) sets on every subagent call, never on the main agent.
AGENT_ID_HEADER = "x-claude-code-agent-id"
#: Sent with AGENT_ID_HEADER, naming the agent that launched the subagent.
PARENT_AGENT_ID_HEADER = "x-claude-code-parent-agent-id"
#: Start of the billing line Claude Code puts in system block [0].
BILLING_LINE_PREFIX = "x-anthropic-billing-header:"
#: The billing line field present on subagent calls.
SUBAGENT_BILLING_FIELD = "cc_is_subagent=true"
#: Separator of the billing line's `key=value;` fields.
BILLING_FIELD_SEPARATOR = ";"

#: The Go proxy matched only requests with exactly this many system blocks...
LEGACY_SYSTEM_BLOCK_COUNT = 2
#: ...hashing block [LEGACY_PROMPT_BLOCK] up to the first LEGACY_NOTES_MARKER.
LEGACY_PROMPT_BLOCK = 1
LEGACY_NOTES_MARKER = "\nNotes:"

#: Agents are indexed by this many leading characters of their normalised body, so a
#: block is compared only with agents that share its head instead of with all of them.
INDEX_PREFIX_CHARS = 64

_Candidate = tuple[str, AgentDefinition]  # (normalised body, agent)


@dataclass(frozen=True)
class SubagentMatch:
    """The outcome of matching one request.

    `agent` is the matched definition or None; `method` says which rule matched
    ("prefix", "legacy-two-block" or "none"); `is_subagent_call` is True when
    Claude Code marked the request as a subagent's (header or billing line) or
    an agent matched, so an unknown subagent can still be told from the main
    agent.
    """

    agent: AgentDefinition | None
    method: MatchMethod
    is_subagent_call: bool


def static_prompt_before_notes(text: str) -> str:
    """The Go proxy's static part of a prompt: the text before the first `\\nNotes:`, trimmed."""
    cut = text.find(LEGACY_NOTES_MARKER)
    return (text if cut == -1 else text[:cut]).strip()


def system_texts(system: object) -> list[str]:
    """The texts of a Messages API `system`: the string itself, or each text block's text.

    Anything else (None, image blocks, malformed entries) contributes nothing;
    validating the request is not this module's job.
    """
    if isinstance(system, str):
        return [system]
    if not isinstance(system, list):
        return []
    return [text for block in system if (text := _block_text(block)) is not None]


def _block_text(block: object) -> str | None:
    if not isinstance(block, Mapping) or block.get("type", "text") != "text":
        return None
    text = block.get("text")
    return text if isinstance(text, str) else None


def has_subagent_header(headers: Mapping[str, str]) -> bool:
    """Whether Claude Code's agent id (or parent agent id) header is present and non-empty."""
    return bool(_header(headers, AGENT_ID_HEADER) or _header(headers, PARENT_AGENT_ID_HEADER))


def has_subagent_billing_flag(text: str) -> bool:
    """Whether a billing line in `text` (at the start of a line) has `cc_is_subagent=true`."""
    start = text.find(BILLING_LINE_PREFIX)
    while start != -1:
        if start == 0 or text[start - 1] == "\n":
            end = text.find("\n", start)
            line = text[start + len(BILLING_LINE_PREFIX) : None if end == -1 else end]
            if any(
                field.strip() == SUBAGENT_BILLING_FIELD
                for field in line.split(BILLING_FIELD_SEPARATOR)
            ):
                return True
        start = text.find(BILLING_LINE_PREFIX, start + 1)
    return False


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header's stripped value, whatever the case of the mapping's keys ('' if absent)."""
    value = headers.get(name)
    if value is None:
        # Django's HttpHeaders is case-insensitive already; a plain dict may not be lowercase.
        value = next((v for key, v in headers.items() if key.lower() == name), None)
    return value.strip() if isinstance(value, str) else ""


class SubagentMatcher:
    """Matches requests against a fixed set of agent definitions; build a new one on change.

    Construction precomputes each agent's normalised body (longest first), an
    index by the first INDEX_PREFIX_CHARS characters, and a fingerprint table
    for the legacy rule. Agents with an empty body are ignored: an empty body is
    a prefix of everything. On equal bodies the agent given first wins.
    """

    def __init__(self, agents: Iterable[AgentDefinition]) -> None:
        candidates = [(normalise(agent.body), agent) for agent in agents]
        ranked = sorted(
            (candidate for candidate in candidates if candidate[0]),
            key=lambda candidate: len(candidate[0]),
            reverse=True,
        )
        self.agents: tuple[AgentDefinition, ...] = tuple(agent for _, agent in ranked)
        by_head: dict[str, list[_Candidate]] = {}
        short: list[_Candidate] = []
        for body, agent in ranked:
            if len(body) >= INDEX_PREFIX_CHARS:
                by_head.setdefault(body[:INDEX_PREFIX_CHARS], []).append((body, agent))
            else:
                short.append((body, agent))
        self._by_head: dict[str, tuple[_Candidate, ...]] = {
            head: tuple(group) for head, group in by_head.items()
        }
        self._short: tuple[_Candidate, ...] = tuple(short)
        # Legacy keys: each body, then the body cut at its own `\nNotes:` as the Go proxy
        # read agent files; whole bodies are added first so they win a collision.
        legacy = ranked + [(static_prompt_before_notes(body), agent) for body, agent in ranked]
        self._by_fingerprint: dict[str, AgentDefinition] = {}
        for text, agent in legacy:
            self._by_fingerprint.setdefault(fingerprint(text), agent)
        # Equal fingerprints need equal texts, so a text of another length is not hashed.
        self._legacy_lengths = frozenset(len(text) for text, _ in legacy)

    def match(self, system: str | list[object] | None, headers: Mapping[str, str]) -> SubagentMatch:
        """Find the agent that sent a request with this `system` and these headers."""
        texts = system_texts(system)
        flagged = has_subagent_header(headers) or any(map(has_subagent_billing_flag, texts))
        if not self.agents:
            return SubagentMatch(None, METHOD_NONE, flagged)
        blocks = [normalise(text) for text in texts]  # each block normalised once
        best: _Candidate | None = None
        for block in blocks:
            found = self._longest_prefix_of(block)
            if found is not None and (best is None or len(found[0]) > len(best[0])):
                best = found
        if best is not None:
            return SubagentMatch(best[1], METHOD_PREFIX, True)
        legacy = self._legacy_match(system)
        if legacy is not None:
            return SubagentMatch(legacy, METHOD_LEGACY, True)
        return SubagentMatch(None, METHOD_NONE, flagged)

    def _longest_prefix_of(self, block: str) -> _Candidate | None:
        # Indexed bodies are all longer than the short ones, so they are tried first.
        for body, agent in self._by_head.get(block[:INDEX_PREFIX_CHARS], ()):
            if block.startswith(body):
                return body, agent
        for body, agent in self._short:
            if block.startswith(body):
                return body, agent
        return None

    def _legacy_match(self, system: object) -> AgentDefinition | None:
        if not isinstance(system, list) or len(system) != LEGACY_SYSTEM_BLOCK_COUNT:
            return None
        text = _block_text(system[LEGACY_PROMPT_BLOCK])
        if text is None:
            return None
        static = static_prompt_before_notes(normalise(text))
        if len(static) not in self._legacy_lengths:
            return None
        return self._by_fingerprint.get(fingerprint(static))
