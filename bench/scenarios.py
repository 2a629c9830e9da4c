"""What the runner measures: each scenario once straight at the mock, once through the gateway.

A scenario names the wire format the client speaks to the gateway and the one
the provider speaks (the direct baseline calls the mock in the provider's
format, so the ratio is "gateway vs. no gateway"). Today both are Anthropic.
An OpenAI-translation scenario is one more entry, once the stack has an
`openai`-format provider and an alias for it (see bench/stack.py)::

    Scenario("translate json c=32", stream=False, concurrency=32, requests=10_000,
             quick_requests=200, upstream_wire="openai", model="bench-openai")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scenario:
    name: str
    stream: bool
    concurrency: int
    #: Requests measured in a full run (the time limit may stop it sooner).
    requests: int
    #: Requests measured with --quick.
    quick_requests: int
    #: What the load generator speaks to the gateway.
    client_wire: str = "anthropic"
    #: What the provider speaks; the direct baseline calls the mock in this format.
    upstream_wire: str = "anthropic"
    #: The `model` sent to the gateway (None: the wire's default, routed to `anthropic`).
    model: str | None = None


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("json c=1", stream=False, concurrency=1, requests=2_000, quick_requests=30),
    Scenario("json c=32", stream=False, concurrency=32, requests=10_000, quick_requests=100),
    Scenario("stream c=1", stream=True, concurrency=1, requests=200, quick_requests=10),
    Scenario("stream c=32", stream=True, concurrency=32, requests=3_000, quick_requests=64),
    Scenario("stream c=256", stream=True, concurrency=256, requests=4_000, quick_requests=256),
)


@dataclass(frozen=True)
class GatewayVariant:
    """The gateway restarted with other settings, measured on one scenario."""

    name: str
    scenario: str
    env: Mapping[str, str] = field(default_factory=dict)


#: Body logging on vs. off, each on a freshly started gateway.
LOG_BODY_VARIANTS: tuple[GatewayVariant, ...] = (
    GatewayVariant("log bodies on", "json c=32", {"SWITCHBOARD_LOG_BODIES": "1"}),
    GatewayVariant("log bodies off", "json c=32", {"SWITCHBOARD_LOG_BODIES": "0"}),
)


def scenario_named(name: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(name)
