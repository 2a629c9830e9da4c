"""Stop Twisted from parsing form bodies that no one reads.

Twisted's `Request.requestReceived` parses a POST body sent as
`multipart/form-data` or a form into `request.args` before Daphne hands the
raw body to the ASGI app, and answers a body it cannot parse with a bare
"400 Bad Request" of its own: no JSON, no log row, and the app never sees
the request. Daphne never reads `args`, so the parsing is wasted work too.
"""

from __future__ import annotations


def stop_parsing_form_bodies() -> None:
    """Make Daphne's requests skip Twisted's form parsing (idempotent)."""
    from daphne.http_protocol import WebRequest

    received = WebRequest.requestReceived
    if getattr(received, "skips_form_parsing", False):
        return

    def request_received(self, command: bytes, path: bytes, version: bytes) -> None:
        # An instance attribute set in Twisted's Request.__init__ (parsePOSTFormSubmission).
        self._parsePOSTFormSubmission = False
        received(self, command, path, version)

    request_received.skips_form_parsing = True  # type: ignore[attr-defined]
    WebRequest.requestReceived = request_received  # type: ignore[method-assign]
