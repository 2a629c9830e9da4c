"""The `rules` section: conditions on a request (`when`) that send it to a target.

Conditions left out match anything; `thinking` and `background` are kept as
"yes", "no" or "" (either), as the model stores them.
"""

from __future__ import annotations

from typing import Any

from routing.config_io.document import RuleSpec
from routing.config_io.read_targets import read_fallbacks, read_target
from routing.config_io.reader import Reader
from routing.config_io.schema import DEFAULT_RULE_PRIORITY, HEADER_KEYS, RULE_KEYS, WHEN_KEYS
from routing.config_io.yaml_lines import At, LineDict
from routing.models import RoutingRule

#: `when` keys whose model field has another name.
CONDITION_FIELDS = {"model": "model_glob"}


def read_rules(reader: Reader, value: Any, at: At) -> None:
    """Each rule, uniquely named, onto `reader.doc.rules`."""
    for data, item_at, name in reader.named_items(
        value, at, RULE_KEYS, (RoutingRule, "name"), key="name", what="rule name"
    ):
        when_at = item_at.key(data, "when")
        when = reader.mapping(data.get("when"), when_at, WHEN_KEYS)
        target = read_target(
            reader, data.get("target"), item_at.key(data, "target"), model_optional=True
        )
        priority = reader.integer(data.get("priority"), item_at.key(data, "priority"))
        if when is None or target is None:
            continue
        header_name, header_value = _read_header_condition(reader, when, when_at)
        reader.doc.rules.append(
            RuleSpec(
                name=name,
                priority=DEFAULT_RULE_PRIORITY if priority is None else priority,
                enabled=reader.boolean(data.get("enabled"), item_at.key(data, "enabled"), True),
                model_glob=_read_condition(reader, when, when_at, "model"),
                subagent=_read_condition(reader, when, when_at, "subagent"),
                thinking=reader.tri_state(when.get("thinking"), when_at.key(when, "thinking")),
                min_input_tokens=reader.integer(
                    when.get("min_input_tokens"),
                    when_at.key(when, "min_input_tokens"),
                    minimum=0,
                ),
                tool=_read_condition(reader, when, when_at, "tool"),
                header_name=header_name,
                header_value=header_value,
                background=reader.tri_state(
                    when.get("background"), when_at.key(when, "background")
                ),
                provider=target[0],
                model=target[1],
                fallbacks=read_fallbacks(
                    reader, data.get("fallbacks"), item_at.key(data, "fallbacks")
                ),
                sticky=reader.boolean(data.get("sticky"), item_at.key(data, "sticky"), True),
            )
        )


def _read_condition(reader: Reader, when: LineDict, when_at: At, key: str) -> str:
    model_field = CONDITION_FIELDS.get(key, key)
    return reader.string(
        when.get(key), when_at.key(when, key), model_field=(RoutingRule, model_field)
    )


def _read_header_condition(reader: Reader, when: LineDict, when_at: At) -> tuple[str, str]:
    """`header: NAME` (present) or `header: {name, value}` (value is a glob)."""
    value, at = when.get("header"), when_at.key(when, "header")
    if not isinstance(value, LineDict):
        return reader.string(value, at, model_field=(RoutingRule, "header_name")), ""
    data = reader.mapping(value, at, HEADER_KEYS)
    if data is None:
        return "", ""
    name = reader.string(
        data.get("name"),
        at.key(data, "name"),
        required=True,
        model_field=(RoutingRule, "header_name"),
    )
    header_value = reader.string(
        data.get("value"), at.key(data, "value"), model_field=(RoutingRule, "header_value")
    )
    return name, header_value
