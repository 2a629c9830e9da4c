"""One request as the gateway serves it: the context the pipeline's stages share.

An `Exchange` starts when a request arrives and is finished exactly once
(`gateway.record.finish`), which hands a row to the log writer. Stages do not
assign its fields; they call one of the transitions below, each named for
what happened:

    authenticated -> body_read -> accepted -> routed
        -> attempt_started -> attempt_ended ... (one per target/account tried)
        -> upstream_refused (an upstream error answer, maybe recovered later)
        -> recovered (a later attempt got through)
        -> answered (JSON) | streaming -> first_byte -> stream_ended | stream_failed
    rejected (our own error, any time) | crashed (a bug, any time) | cancelled

Nothing here touches the database or blocks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

from providers.base import Adapter, Call
from providers.errors import GatewayError, UpstreamError
from providers.transport import UpstreamResponse
from requestlog.models import Outcome
from routing.router import RouteDecision

#: The log's outcomes (requestlog.models.Outcome) as the plain strings stored.
COMPLETED = str(Outcome.COMPLETED)
CANCELLED = str(Outcome.CANCELLED)
CLIENT_ERROR = str(Outcome.CLIENT_ERROR)
UPSTREAM_ERROR = str(Outcome.UPSTREAM_ERROR)
GATEWAY_ERROR = str(Outcome.GATEWAY_ERROR)

#: HTTP status logged for a request whose client went away before the end.
CLIENT_CLOSED_REQUEST = 499
#: Where a server that cancels in-flight requests (the drain) says why.
CANCEL_REASON_SCOPE_KEY = "switchboard.cancel_reason"
DEFAULT_CANCEL_REASON = "the client disconnected before the end of the answer"


def new_request_id() -> str:
    return "sbreq_" + uuid.uuid4().hex


@dataclass(frozen=True)
class ParsedRequest:
    """A Messages request after ingress: parsed and validated, each field coerced once."""

    body: bytes
    payload: dict[str, Any]
    model: str
    stream: bool
    conversation_key: str


@dataclass
class Opened:
    """An upstream answer that is being relayed, and how to relay it."""

    upstream: UpstreamResponse
    adapter: Adapter
    call: Call
    #: For streams: the relay, its first chunk already read (see gateway.attempts).
    stream: AsyncIterator[bytes] | None = None


@dataclass
class Attempt:
    """One try of one target with one account."""

    provider: str
    account: str
    model: str
    started: float = field(default_factory=time.monotonic)
    status: int | None = None
    error: str = ""
    ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "account": self.account,
            "model": self.model,
            "status": self.status,
            "error": self.error,
            "ms": self.ms,
        }


@dataclass
class Exchange:
    endpoint: str
    method: str
    #: The path as logged: query values with credential-like names redacted.
    path: str
    query: str
    headers: list[tuple[str, str]]
    client_ip: str | None
    #: The ASGI scope, where a server may leave a cancel reason.
    scope: dict[str, Any] = field(default_factory=dict, repr=False)
    #: The Django request (its body is read by ingress, once).
    http: HttpRequest | None = field(default=None, repr=False)
    request_id: str = field(default_factory=new_request_id)
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    # What the stages learn, through the transitions below only.
    key_verified: bool = False
    raw_body: bytes = b""
    request: ParsedRequest | None = None
    decision: RouteDecision | None = None
    route: str = ""
    route_reason: str = ""
    subagent: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    opened: Opened | None = None
    provider: str = ""
    account: str = ""
    target_model: str = ""
    notes: list[str] = field(default_factory=list)
    upstream_request_body: bytes | str = b""
    status: int = 0
    outcome: str = COMPLETED
    error_type: str = ""
    error_message: str = ""
    first_byte_at: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    response_message: dict[str, Any] | None = None
    response_body: bytes | str = b""
    upstream_response_body: bytes | str = b""
    finished: bool = False
    _header_map: dict[str, str] | None = field(default=None, repr=False)

    @property
    def header_map(self) -> dict[str, str]:
        """The client's headers by lower-case name (last one wins); built once."""
        if self._header_map is None:
            self._header_map = {name.lower(): value for name, value in self.headers}
        return self._header_map

    @property
    def payload(self) -> dict[str, Any] | None:
        return self.request.payload if self.request is not None else None

    @property
    def requested_model(self) -> str:
        return self.request.model if self.request is not None else ""

    @property
    def stream(self) -> bool:
        return self.request.stream if self.request is not None else False

    # --- the request ------------------------------------------------------------
    def authenticated(self, key_header: str | None) -> None:
        """A gateway key was checked; the header that carried it is not forwarded."""
        if key_header is not None:
            self.key_verified = True
            self.headers = [(n, v) for n, v in self.headers if n != key_header]
            if self._header_map is not None:
                self._header_map.pop(key_header, None)

    def body_read(self, body: bytes) -> None:
        self.raw_body = body

    def accepted(self, request: ParsedRequest) -> None:
        self.request = request

    def routed(self, decision: RouteDecision | None, route: str, reason: str) -> None:
        self.decision = decision
        self.route, self.route_reason = route, reason

    def subagent_matched(self, label: str) -> None:
        self.subagent = label

    # --- attempts ---------------------------------------------------------------
    def attempt_started(self, provider: str, account: str, model: str) -> Attempt:
        attempt = Attempt(provider=provider, account=account, model=model)
        self.attempts.append(attempt)
        self.provider, self.account, self.target_model = provider, account, model
        return attempt

    @staticmethod
    def attempt_ended(attempt: Attempt, *, status: int | None, error: str = "") -> None:
        attempt.status = status
        attempt.error = error
        attempt.ms = int((time.monotonic() - attempt.started) * 1000)

    def attempt_skipped(self, provider: str, model: str, why: str) -> None:
        """A target that could not be tried at all (every account cooling down)."""
        self.attempt_ended(self.attempt_started(provider, "", model), status=None, error=why)

    def upstream_opened(self, opened: Opened) -> None:
        """This attempt's answer is the one the client gets."""
        self.opened = opened
        self.recovered()

    def request_prepared(self, translated_body: bytes, notes: list[str]) -> None:
        """An upstream request was built: the translated body (b"" when relayed as sent),
        and what the adapter had to drop or change."""
        if translated_body:
            self.upstream_request_body = translated_body
        self.notes = list(notes)

    def served_locally(self, provider: str, model: str) -> None:
        """Answered by the gateway for this target (a local token estimate)."""
        self.provider, self.target_model = provider, model

    def upstream_refused(self, status: int, error: dict[str, Any], body: bytes) -> None:
        """The upstream answered with an error (a later attempt may still recover)."""
        self.status = status
        self.outcome = UPSTREAM_ERROR
        self.error_type = str(error.get("type", "api_error"))
        self.error_message = str(error.get("message", ""))
        self.upstream_response_body = body

    def recovered(self) -> None:
        """A later attempt got through: the request's own outcome is not an error."""
        self.status = 0
        self.outcome = COMPLETED
        self.error_type = self.error_message = ""

    # --- the answer -------------------------------------------------------------
    def first_byte(self) -> None:
        if self.first_byte_at is None:
            self.first_byte_at = time.monotonic()

    def answered(
        self,
        status: int,
        body: bytes,
        message: dict[str, Any] | None,
        upstream_body: bytes | None = None,
    ) -> None:
        """A complete (non-streaming) answer went to the client."""
        self.status = status
        self.response_body = body
        if upstream_body is not None:
            self.upstream_response_body = upstream_body
        if message is not None:
            self.response_message = message
            usage = message.get("usage")
            self.usage = usage if isinstance(usage, dict) else {}

    def counted(self, status: int, body: bytes | str) -> None:
        """A count_tokens answer: relayed or estimated; a count is not usage."""
        self.status = status
        self.response_body = body
        self.usage = {}

    def streaming(self, status: int) -> None:
        self.status = status

    def stream_failed(self, error_type: str, message: str) -> None:
        """The stream broke after it began; the client got an `event: error`."""
        self.outcome = UPSTREAM_ERROR
        self.error_type, self.error_message = error_type, message

    def stream_ended(
        self, usage: dict[str, Any], message: dict[str, Any] | None, upstream_body: bytes
    ) -> None:
        """What the stream carried, assembled for the log (also after a failure)."""
        self.usage = usage
        self.response_message = message
        self.upstream_response_body = upstream_body

    def cancelled(self) -> None:
        """The client went away (or the server cancelled the request) before the end."""
        self.status = CLIENT_CLOSED_REQUEST
        self.outcome = CANCELLED
        reason = self.scope.get(CANCEL_REASON_SCOPE_KEY)
        self.error_message = reason if isinstance(reason, str) else DEFAULT_CANCEL_REASON

    def rejected(self, exc: GatewayError) -> None:
        """Our own error: the client's fault (4xx), the upstream's, or the gateway's."""
        self.status = exc.status
        if isinstance(exc, UpstreamError):
            self.outcome = UPSTREAM_ERROR
        elif exc.status < 500:
            self.outcome = CLIENT_ERROR
        else:
            self.outcome = GATEWAY_ERROR
        self.error_type = exc.error_type
        self.error_message = exc.message

    def crashed(self, message: str) -> None:
        """A bug in the gateway: the request ends with a 500."""
        self.status = 500
        self.outcome = GATEWAY_ERROR
        self.error_type = "api_error"
        self.error_message = message

    def finishing(self) -> bool:
        """True the first time only: the row is handed over exactly once."""
        if self.finished:
            return False
        self.finished = True
        return True

    def latency_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def ttfb_ms(self) -> int | None:
        if self.first_byte_at is None:
            return None
        return int((self.first_byte_at - self.started) * 1000)
