"""`manage.py serve`: run the gateway under Daphne, with limits and a graceful drain.

The same application as `daphne proxysite.asgi:application`, served by
`proxysite.server.DrainingServer`: request heads are checked before bodies
are read (size, gateway key), slow or idle connections are closed, and
SIGTERM/SIGINT drain the requests in flight before the process exits 0.
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def access_log(target: str | None) -> Any:
    """The access logger for `--access-log`, or None for none."""
    if target is None:
        return None
    from proxysite.access_log import RedactingAccessLog

    stream = sys.stdout if target == "-" else open(target, "a", buffering=1)
    return RedactingAccessLog(stream)


class Command(BaseCommand):
    help = (
        "Serve the gateway (Daphne) with request limits and a graceful drain on SIGTERM: "
        "in-flight requests get SWITCHBOARD_DRAIN_SECONDS to finish."
    )
    # The checks would import the admin and every URLconf before the first request.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default=None, help=f"address to bind (default {DEFAULT_HOST})"
        )
        parser.add_argument("--port", type=int, default=None, help=f"default {DEFAULT_PORT}")
        parser.add_argument(
            "--fd",
            type=int,
            default=None,
            help="serve on this inherited listening socket instead (several workers, one port)",
        )
        parser.add_argument(
            "--access-log",
            default=None,
            metavar="FILE",
            help="write an access log line per request to FILE ('-' for standard output); "
            "credential-like query values are redacted (default: no access log)",
        )
        parser.add_argument(
            "--drain-seconds",
            type=float,
            default=None,
            help="seconds in-flight requests get after SIGTERM (default SWITCHBOARD_DRAIN_SECONDS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Imported here: the first imports the Twisted reactor, the second starts the
        # gateway's background threads; neither belongs in `manage.py help`.
        from daphne.endpoints import build_endpoint_description_strings

        from proxysite.server import DrainingServer

        from proxysite.asgi import application, http_requests  # isort:skip

        host, port, fd = options["host"], options["port"], options["fd"]
        if fd is not None and (host or port):
            raise CommandError("give either --fd or --host/--port, not both")
        if fd is None:
            host, port = host or DEFAULT_HOST, port if port is not None else DEFAULT_PORT
        endpoints = build_endpoint_description_strings(host=host, port=port, file_descriptor=fd)
        drain_seconds = options["drain_seconds"]
        if drain_seconds is None:
            drain_seconds = settings.SWITCHBOARD_DRAIN_SECONDS
        if drain_seconds < 0:
            raise CommandError("--drain-seconds cannot be negative")
        DrainingServer(
            application,
            endpoints=endpoints,
            action_logger=access_log(options["access_log"]),
            in_flight=http_requests,
            drain_seconds=drain_seconds,
            header_timeout=settings.SWITCHBOARD_HEADER_TIMEOUT_SECONDS,
            idle_timeout=settings.SWITCHBOARD_IDLE_TIMEOUT_SECONDS,
        ).run()
