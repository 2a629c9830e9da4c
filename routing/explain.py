"""Why a request would be routed where it would: the admin's "try a route" page.

Pure: given a request body, its headers and a config, runs the same steps as
the request path (subagent match, summary, rules, decision) and keeps every
intermediate answer so an operator can read them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from routing.config import RoutingConfig, RuleConfig
from routing.router import NoRoute, RequestSummary, RouteDecision, decide, rule_matches
from routing.sticky import is_turn_continuation
from routing.subagents import SubagentMatch
from routing.summary import subagent_label, summarize

#: Condition fields of a rule, each tested on its own to say which one failed
#: (header_value only ever together with header_name).
CONDITION_FIELDS = tuple(f for f in RuleConfig.CONDITION_FIELDS if f != "header_value")
#: A rule with no condition set: each field's default on RuleConfig.
NEUTRAL = {
    f.name: f.default
    for f in dataclasses.fields(RuleConfig)
    if f.name in RuleConfig.CONDITION_FIELDS
}


@dataclass(frozen=True)
class RuleVerdict:
    rule: RuleConfig
    matched: bool
    detail: str  # what held, or which conditions failed
    provider_missing: bool = False


@dataclass
class Explanation:
    summary: RequestSummary
    match: SubagentMatch | None
    subagent: str
    continuation: bool
    rules: list[RuleVerdict] = field(default_factory=list)
    decision: RouteDecision | None = None
    error: str = ""


def explain(payload: dict[str, Any], headers: dict[str, str], config: RoutingConfig) -> Explanation:
    summary, match = summarize(payload, payload["model"], headers, config)
    result = Explanation(
        summary=summary,
        match=match,
        subagent=subagent_label(summary),
        continuation=is_turn_continuation(payload),
    )
    for rule in config.rules:
        result.rules.append(_verdict(rule, summary, config))
    try:
        result.decision = decide(summary, config)
    except NoRoute as exc:
        result.error = str(exc)
    return result


def _verdict(rule: RuleConfig, summary: RequestSummary, config: RoutingConfig) -> RuleVerdict:
    missing = config.provider(rule.provider) is None
    held = rule_matches(rule, summary, config)
    if held is not None:
        return RuleVerdict(rule, not missing, held, provider_missing=missing)
    failed = []
    for name in CONDITION_FIELDS:
        if getattr(rule, name) in (None, ""):
            continue
        only = dataclasses.replace(rule, **{**NEUTRAL, name: getattr(rule, name)})
        if name == "header_name":
            only = dataclasses.replace(only, header_value=rule.header_value)
        if rule_matches(only, summary, config) is None:
            failed.append(_describe(name, rule))
    return RuleVerdict(rule, False, "failed: " + ", ".join(failed), provider_missing=missing)


def _describe(name: str, rule: RuleConfig) -> str:
    value = getattr(rule, name)
    return {
        "model_glob": f"model does not match {value!r}",
        "subagent": "not a subagent call" if value == "*" else f"subagent is not {value!r}",
        "thinking": "thinking is off" if value else "thinking is on",
        "min_input_tokens": f"fewer than {value} input tokens",
        "tool": f"no tool matches {value!r}",
        "header_name": f"header {value} missing or different",
        "background": "not a background request" if value else "a background request",
    }[name]
