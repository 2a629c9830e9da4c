"""What the runner measures: each scenario straight at the mock, through the gateway, at a peer.

A scenario names the wire format the client speaks to the gateway and the one
the provider speaks (the direct baseline calls the mock in the provider's
format, so the ratio is "gateway vs. no gateway"). Passthrough scenarios are
Anthropic on both sides; translated ones send Anthropic requests for the
alias `bench-openai`, which the stack routes to an `openai`-format provider
(see bench/stack.py), so the gateway translates the request, the answer and
every stream event, and the direct baseline calls the mock's Chat
Completions endpoint.

The other sections of a run are listed here too: the servers compared, the
worker counts, the mixed load of the memory rounds, and the gateway
restarted with body logging on and off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bench.loadgen import RequestKind

#: The alias the stack routes to its OpenAI-format provider (and LiteLLM's model name for it).
TRANSLATED_MODEL = "bench-openai"


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

    @property
    def translated(self) -> bool:
        """Whether the gateway translates between the client's and the provider's format."""
        return self.client_wire != self.upstream_wire


PASSTHROUGH_SCENARIOS: tuple[Scenario, ...] = (
    Scenario("json c=1", stream=False, concurrency=1, requests=2_000, quick_requests=30),
    Scenario("json c=32", stream=False, concurrency=32, requests=10_000, quick_requests=100),
    Scenario("stream c=1", stream=True, concurrency=1, requests=200, quick_requests=10),
    Scenario("stream c=32", stream=True, concurrency=32, requests=3_000, quick_requests=64),
    Scenario("stream c=256", stream=True, concurrency=256, requests=4_000, quick_requests=256),
)


def _translated(
    name: str, *, stream: bool, concurrency: int, requests: int, quick: int
) -> Scenario:
    return Scenario(
        name,
        stream=stream,
        concurrency=concurrency,
        requests=requests,
        quick_requests=quick,
        upstream_wire="openai",
        model=TRANSLATED_MODEL,
    )


TRANSLATED_SCENARIOS: tuple[Scenario, ...] = (
    _translated("translated json c=1", stream=False, concurrency=1, requests=2_000, quick=30),
    _translated("translated json c=32", stream=False, concurrency=32, requests=10_000, quick=100),
    _translated("translated stream c=1", stream=True, concurrency=1, requests=200, quick=10),
    _translated("translated stream c=32", stream=True, concurrency=32, requests=3_000, quick=64),
)

SCENARIOS: tuple[Scenario, ...] = PASSTHROUGH_SCENARIOS + TRANSLATED_SCENARIOS


def passthrough_twin(translated: Scenario) -> Scenario:
    """The passthrough scenario with the same streaming and concurrency."""
    for scenario in PASSTHROUGH_SCENARIOS:
        if (scenario.stream, scenario.concurrency) == (translated.stream, translated.concurrency):
            return scenario
    raise KeyError(translated.name)


#: Measured under each ASGI server on the same app (Daphne first, the documented default).
SERVER_SCENARIOS: tuple[str, ...] = ("json c=1", "json c=32")
#: Gateway workers compared (Daphne processes sharing one socket), on WORKERS_SCENARIO.
WORKER_COUNTS: tuple[int, ...] = (1, 2)
WORKERS_SCENARIO = "json c=32"

#: The memory rounds: requests cycle through these four kinds.
MEMORY_MIX: tuple[RequestKind, ...] = (
    RequestKind(stream=False),
    RequestKind(stream=True),
    RequestKind(stream=False, model=TRANSLATED_MODEL),
    RequestKind(stream=True, model=TRANSLATED_MODEL),
)
MEMORY_ROUNDS = 3
MEMORY_ROUND_REQUESTS = 10_000
QUICK_MEMORY_ROUND_REQUESTS = 100
MEMORY_CONCURRENCY = 32


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
