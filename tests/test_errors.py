"""The gateway's exceptions: status, Anthropic error type, and the error envelope."""

from __future__ import annotations

import pytest

from providers.errors import (
    AuthenticationFailed,
    ClientError,
    GatewayError,
    InvalidRequest,
    NoRouteAvailable,
    NotFound,
    RequestTooLarge,
    UpstreamConnectError,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamProtocolError,
    UpstreamTimeout,
    error_body,
    error_type_for_status,
)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (408, "timeout"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout"),
        (529, "overloaded_error"),
        # Not in the table: any other 4xx is the client's, anything else ours.
        (405, "invalid_request_error"),
        (418, "invalid_request_error"),
        (499, "invalid_request_error"),
        (501, "api_error"),
        (520, "api_error"),
        (599, "api_error"),
        (200, "api_error"),
        (302, "api_error"),
        (399, "api_error"),
        (600, "api_error"),
    ],
)
def test_it_maps_each_status_to_an_anthropic_error_type(status: int, error_type: str) -> None:
    assert error_type_for_status(status) == error_type


@pytest.mark.parametrize(
    ("cls", "status", "error_type", "parent"),
    [
        (GatewayError, 500, "api_error", Exception),
        (ClientError, 400, "invalid_request_error", GatewayError),
        (InvalidRequest, 400, "invalid_request_error", ClientError),
        (RequestTooLarge, 413, "request_too_large", ClientError),
        (AuthenticationFailed, 401, "authentication_error", ClientError),
        (NotFound, 404, "not_found_error", ClientError),
        (UpstreamError, 502, "api_error", GatewayError),
        (UpstreamConnectError, 502, "api_error", UpstreamError),
        (UpstreamTimeout, 504, "timeout", UpstreamError),
        (UpstreamOverloaded, 529, "overloaded_error", UpstreamError),
        (UpstreamProtocolError, 502, "api_error", UpstreamError),
        (NoRouteAvailable, 502, "api_error", UpstreamError),
    ],
)
def test_it_gives_each_exception_its_status_type_and_envelope(
    cls: type[GatewayError], status: int, error_type: str, parent: type[Exception]
) -> None:
    exc = cls("something went wrong")
    assert issubclass(cls, parent)
    assert exc.status == status
    assert exc.error_type == error_type
    assert exc.message == "something went wrong"
    assert str(exc) == "something went wrong"
    assert exc.body() == {
        "type": "error",
        "error": {"type": error_type, "message": "something went wrong"},
    }


def test_it_agrees_with_the_status_table_for_every_exception() -> None:
    for cls in (InvalidRequest, RequestTooLarge, AuthenticationFailed, NotFound, UpstreamTimeout):
        assert error_type_for_status(cls.status) == cls.error_type


def test_it_keeps_client_and_upstream_errors_apart() -> None:
    client = (InvalidRequest, RequestTooLarge, AuthenticationFailed, NotFound)
    upstream = (
        UpstreamConnectError,
        UpstreamTimeout,
        UpstreamOverloaded,
        UpstreamProtocolError,
        NoRouteAvailable,
    )
    assert not any(issubclass(cls, UpstreamError) for cls in client)
    assert not any(issubclass(cls, ClientError) for cls in upstream)


def test_it_builds_the_anthropic_error_envelope() -> None:
    assert error_body("rate_limit_error", "slow down") == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "slow down"},
    }
