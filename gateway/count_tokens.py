"""POST /v1/messages/count_tokens after routing: counted upstream, or estimated here.

Anthropic-format targets count (the answer is relayed); a format with no
counting endpoint gets the local estimate, marked with
`x-switchboard-token-count: estimated`. A count is not usage: the log row
carries no tokens for it.
"""

from __future__ import annotations

import orjson
from django.http import HttpResponse

from gateway.attempts import LocalAnswer, open_upstream
from gateway.exchange import Exchange
from gateway.relay import relay_message
from gateway.responses import apply_headers
from providers.token_estimate import estimate_input_tokens

ESTIMATED_HEADER = ("x-switchboard-token-count", "estimated")


async def count_or_estimate(exchange: Exchange) -> HttpResponse | None:
    try:
        failed = await open_upstream(exchange, "count_tokens")
    except LocalAnswer as local:
        exchange.served_locally(local.call.provider.name, local.call.target_model)
        assert exchange.request is not None
        body = orjson.dumps({"input_tokens": estimate_input_tokens(exchange.request.payload)})
        exchange.counted(200, body)
        response = HttpResponse(body, status=200, content_type="application/json")
        apply_headers(response, exchange, [ESTIMATED_HEADER])
        return response
    if failed is not None:
        return failed
    assert exchange.opened is not None
    response = await relay_message(exchange.opened, exchange)
    exchange.counted(response.status_code, exchange.response_body)
    return response
