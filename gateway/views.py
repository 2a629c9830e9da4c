"""The /v1/* views: each runs its pipeline (gateway.pipeline) inside the boundary.

Served by a Django handler without middleware (proxysite/gateway_handler.py):
no thread hop, no database query on this path.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import pipeline
from gateway.boundary import serve


@csrf_exempt
async def messages(request: HttpRequest) -> HttpResponse:
    return await serve(request, pipeline.MESSAGES)


@csrf_exempt
async def count_tokens(request: HttpRequest) -> HttpResponse:
    return await serve(request, pipeline.COUNT_TOKENS)


async def models(request: HttpRequest) -> HttpResponse:
    return await serve(request, pipeline.MODELS)


@csrf_exempt
async def passthrough(request: HttpRequest, rest: str = "") -> HttpResponse:
    return await serve(request, pipeline.PASSTHROUGH)
