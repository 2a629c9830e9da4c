"""The /v1/* request path, written down once: each endpoint's stages, in order.

A stage is `async def stage(exchange) -> HttpResponse | None`: it moves the
exchange on through one of its transitions and returns None to let the next
stage run, or an answer to end the chain there (a local reply). It may raise
a `providers.errors.GatewayError`; the boundary (`gateway.boundary.serve`)
turns that, or any other exception, into the client's error answer, and
finishes the exchange (`gateway.record.finish`: the log row) in every case.

    stage            module                    what it does
    authenticate     gateway.authenticate      Host, browser origin, gateway key
    ingress          gateway.ingress.*         read under the cap, parse, validate
    route            gateway.route             subagent, sticky lane, routing.router
    attempts         gateway.attempts          targets, fallbacks, accounts
    relay            gateway.relay             the answer, streamed or whole
    finish           gateway.record            one log row (in the boundary)

Adding a stage is one module and one line below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from django.http import HttpResponse

from gateway import attempts, authenticate, count_tokens, models_list, passthrough, relay, route
from gateway.exchange import Exchange
from gateway.ingress import anthropic

Stage = Callable[[Exchange], Awaitable[HttpResponse | None]]


@dataclass(frozen=True)
class Pipeline:
    #: The endpoint's name in the log (`RequestLog.endpoint`).
    endpoint: str
    stages: tuple[Stage, ...]


MESSAGES = Pipeline(
    "messages",
    (
        authenticate.authenticate,
        anthropic.read_messages_request,
        route.choose_target,
        attempts.try_targets,
        relay.send_answer,
    ),
)

COUNT_TOKENS = Pipeline(
    "count_tokens",
    (
        authenticate.authenticate,
        anthropic.read_count_tokens_request,
        route.choose_target,
        count_tokens.count_or_estimate,
    ),
)

MODELS = Pipeline(
    "models",
    (
        authenticate.authenticate,
        models_list.list_models,
    ),
)

PASSTHROUGH = Pipeline(
    "passthrough",
    (
        authenticate.authenticate,
        passthrough.forward,
    ),
)
