"""What every wire-format adapter offers the views, and the per-request context it gets.

An adapter turns a client's Anthropic request into an upstream request for
its format, and the upstream's answer (JSON, SSE stream or error) back into
the Anthropic format. `providers.registry.ADAPTERS` maps a provider's wire
format to its adapter, so the views never branch on a format's name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from providers.anthropic.stream_log import MessageAccumulator
from providers.config import CredentialConfig, ProviderConfig
from providers.transport import UpstreamRequest, UpstreamResponse


@dataclass
class Call:
    """One client request as an adapter sees it (for one target)."""

    payload: dict[str, Any]
    raw_body: bytes
    requested_model: str
    provider: ProviderConfig
    target_model: str
    credential: CredentialConfig | None
    client_headers: list[tuple[str, str]]
    path: str
    query: str
    #: Filled by the adapter's relay, read by the log.
    message: MessageAccumulator = field(default_factory=MessageAccumulator)
    upstream_body: bytearray = field(default_factory=bytearray)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Prepared:
    """An upstream request, and the body as it went out (for the log)."""

    request: UpstreamRequest
    translated: bool


class Adapter(Protocol):
    wire_format: str

    def messages_request(self, call: Call) -> Prepared:
        """The upstream request for POST /v1/messages. Raises InvalidRequest."""
        ...

    def count_tokens_request(self, call: Call) -> Prepared | None:
        """The upstream request for count_tokens, or None to estimate locally."""
        ...

    def relay_stream(self, upstream: UpstreamResponse, call: Call) -> AsyncIterator[bytes]:
        """Anthropic SSE bytes for the client, as the upstream sends; fills call.message."""
        ...

    def message_body(self, body: bytes, call: Call) -> tuple[bytes, dict[str, Any] | None]:
        """(bytes for the client, parsed Anthropic message) for a non-streaming answer."""
        ...

    def error_body(self, status: int, body: bytes, content_type: str) -> tuple[int, dict]:
        """(status, Anthropic error envelope) for an upstream error answer."""
        ...
