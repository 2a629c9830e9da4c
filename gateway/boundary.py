"""The one error boundary of /v1/*: every outcome is an answer in the client's format.

`serve(request, pipeline)` runs the pipeline's stages in order. A stage may
answer early (a local reply) or raise; whatever happens:
- our own errors (`providers.errors.GatewayError`) become their Anthropic
  error, with their status;
- anything else is a bug: a 500 `api_error` naming the request id, the
  traceback once in the process log; never Django's HTML page, whatever
  DEBUG says;
- the exchange is finished (one log row) unless a streaming answer took
  over that duty (it finishes in its own `finally`).
If even the error answer cannot be built, a bare one made of plain values is
sent.
"""

from __future__ import annotations

import asyncio
import logging

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from gateway.exchange import Exchange
from gateway.ingress import start_exchange
from gateway.pipeline import Pipeline
from gateway.record import finish
from gateway.responses import bare_error_response, error_response
from providers.errors import GatewayError

logger = logging.getLogger(__name__)


class StageDidNotAnswer(RuntimeError):
    """A pipeline ran out of stages without an answer (a bug in its definition)."""


async def serve(request: HttpRequest, pipeline: Pipeline) -> HttpResponse:
    exchange: Exchange | None = None
    handed_off = False  # True once a streaming answer owns finish()
    try:
        exchange = _start(request, pipeline.endpoint)
        response = await run_stages(exchange, pipeline)
        handed_off = isinstance(response, StreamingHttpResponse)
        return response
    except GatewayError as exc:
        return reject(exc, exchange)
    except asyncio.CancelledError:
        # The client left, or the server ended the request (a drain): logged as cancelled.
        if exchange is not None:
            exchange.cancelled()
        raise
    except Exception:
        return internal_error(exchange, pipeline.endpoint)
    finally:
        if exchange is not None and not handed_off:
            finish(exchange)


def _start(request: HttpRequest, endpoint: str) -> Exchange:
    try:
        return start_exchange(request, endpoint)
    except Exception:
        logger.exception(
            "a %s request could not be read; it is logged with what is known", endpoint
        )
        return Exchange(
            endpoint=endpoint,
            method=str(getattr(request, "method", ""))[:8],
            path="",
            query="",
            headers=[],
            client_ip=None,
        )


async def run_stages(exchange: Exchange, pipeline: Pipeline) -> HttpResponse:
    for stage in pipeline.stages:
        response = await stage(exchange)
        if response is not None:
            return response
    raise StageDidNotAnswer(f"no stage of the {pipeline.endpoint} pipeline answered")


def reject(exc: GatewayError, exchange: Exchange | None) -> HttpResponse:
    """Our own error, Anthropic-shaped; client errors are never forwarded."""
    if exchange is None:
        return bare_error_response(exc.status, exc.error_type, exc.message, "")
    try:
        exchange.rejected(exc)
        return error_response(exc, exchange)
    except Exception:
        logger.exception("request %s: the error answer failed", exchange.request_id)
        return bare_error_response(exc.status, exc.error_type, exc.message, exchange.request_id)


def internal_error(exchange: Exchange | None, endpoint: str) -> HttpResponse:
    """A bug: logged once with its traceback, answered as a 500 `api_error`."""
    request_id = exchange.request_id if exchange is not None else "unknown"
    logger.exception("request %s (%s) failed inside the gateway", request_id, endpoint)
    return reject(GatewayError(f"internal gateway error (request id {request_id})"), exchange)
