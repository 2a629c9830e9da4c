"""Rescan the agent directories now and report what changed."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from routing.agent_sync import configured_scanner, sync_agents


class Command(BaseCommand):
    help = "Discover Claude Code subagent files (SWITCHBOARD_AGENT_DIRS) and update the admin."

    def handle(self, *args, **options) -> None:
        scanner = configured_scanner()
        report = sync_agents(scanner.scan())
        self.stdout.write("directories: " + ", ".join(str(d) for d in scanner.dirs))
        for name in report.created:
            self.stdout.write(f"new: {name}")
        for name in report.updated:
            self.stdout.write(f"changed: {name}")
        for name in report.gone:
            self.stdout.write(f"gone: {name}")
        for message in report.errors:
            self.stderr.write(f"skipped: {message}")
        self.stdout.write(f"agents: {report}")
