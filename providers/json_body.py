"""Encoding a request body that the gateway changed (a new model, a translation)."""

from __future__ import annotations

from typing import Any

import orjson

from providers.errors import InvalidRequest


def encode_body(value: Any) -> bytes:
    """JSON bytes of a request body; one nested too deep to encode is the client's error.

    orjson reads 1,024 levels of nesting but writes only 254, so a body that
    parsed may still not re-encode.
    """
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise InvalidRequest(
            f"request body cannot be re-encoded ({exc}); nest it less deeply"
        ) from None
