"""The gateway's own exception tree, and the one place foreign errors map to it.

    GatewayError                      status, Anthropic error type, message
    ├── ClientError                   the client's request is wrong (never forwarded)
    │   ├── InvalidRequest            400 invalid_request_error
    │   ├── RequestTooLarge           413 request_too_large
    │   ├── AuthenticationFailed      401 authentication_error
    │   ├── PermissionDenied          403 permission_error
    │   └── NotFound                  404 not_found_error
    └── UpstreamError                 the provider could not be used
        ├── UpstreamConnectError      502 api_error (refused, reset, DNS)
        ├── UpstreamTimeout           504 timeout
        ├── UpstreamOverloaded        529 overloaded_error (no free connection)
        ├── UpstreamProtocolError     502 api_error (broken stream or body)
        └── NoRouteAvailable          502 api_error (no enabled provider)

The gateway's error boundary (`gateway.boundary`) turns these into Anthropic-shaped answers with
`error_body()`; `map_transport_errors()` in `providers.transport` is the
boundary where httpx exceptions become ours.
"""

from __future__ import annotations


class GatewayError(Exception):
    status: int = 500
    error_type: str = "api_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        return error_body(self.error_type, self.message)


class ClientError(GatewayError):
    status = 400
    error_type = "invalid_request_error"


class InvalidRequest(ClientError):
    pass


class RequestTooLarge(ClientError):
    status = 413
    error_type = "request_too_large"


class AuthenticationFailed(ClientError):
    status = 401
    error_type = "authentication_error"


class PermissionDenied(ClientError):
    status = 403
    error_type = "permission_error"


class NotFound(ClientError):
    status = 404
    error_type = "not_found_error"


class UpstreamError(GatewayError):
    status = 502
    error_type = "api_error"


class UpstreamConnectError(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    status = 504
    error_type = "timeout"


class UpstreamOverloaded(UpstreamError):
    status = 529
    error_type = "overloaded_error"


class UpstreamProtocolError(UpstreamError):
    pass


class NoRouteAvailable(UpstreamError):
    pass


#: Anthropic error type for each HTTP status the gateway may answer with.
ERROR_TYPE_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout",
    529: "overloaded_error",
}


def error_type_for_status(status: int) -> str:
    """The Anthropic error type that best describes an HTTP status."""
    if status in ERROR_TYPE_BY_STATUS:
        return ERROR_TYPE_BY_STATUS[status]
    if 400 <= status < 500:
        return "invalid_request_error"
    return "api_error"


def error_body(error_type: str, message: str) -> dict:
    """The Anthropic error envelope: {"type": "error", "error": {...}}."""
    return {"type": "error", "error": {"type": error_type, "message": message}}
