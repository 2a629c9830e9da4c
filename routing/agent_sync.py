"""Keeps AgentDefinition rows in step with the agent files on disk.

`sync_agents(result)` writes what an `AgentDirectoryScanner` found: new and
changed agents are saved (which bumps the config version, so every worker
rebuilds its matcher), agents whose file is gone are marked not present, and
unchanged rows are not touched. Uploaded agents are never overwritten by a
file of the same name: the operator chose them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from routing.agents import AgentDefinition as Agent
from routing.agents import AgentDirectoryScanner, ScanResult, agent_dirs_from_env
from routing.models import AgentDefinition

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [
            f"{len(self.created)} new",
            f"{len(self.updated)} changed",
            f"{len(self.gone)} gone",
            f"{len(self.errors)} errors",
        ]
        return ", ".join(parts)


def configured_scanner() -> AgentDirectoryScanner:
    dirs = agent_dirs_from_env(settings.SWITCHBOARD_AGENT_DIRS, Path(os.getcwd()), Path.home())
    return AgentDirectoryScanner(dirs)


def fields_of(agent: Agent) -> dict[str, object]:
    return {
        "description": agent.description,
        "declared_model": agent.model or "",
        "tools": list(agent.tools),
        "body": agent.body,
        "fingerprint": agent.fingerprint,
        "path": agent.source,
    }


def sync_agents(result: ScanResult) -> SyncReport:
    report = SyncReport(errors=[message for _, message in result.errors])
    now = timezone.now()
    existing = {row.name: row for row in AgentDefinition.objects.all()}
    for name, agent in result.agents.items():
        row = existing.get(name)
        wanted = fields_of(agent)
        if row is None:
            try:
                with transaction.atomic():
                    AgentDefinition.objects.create(
                        name=name,
                        source=AgentDefinition.SOURCE_DISCOVERED,
                        present=True,
                        last_seen_at=now,
                        **wanted,
                    )
                report.created.append(name)
            except IntegrityError:  # another worker created it meanwhile
                pass
            continue
        if row.source != AgentDefinition.SOURCE_DISCOVERED:
            continue
        changed = not row.present or any(getattr(row, k) != v for k, v in wanted.items())
        if changed:
            for key, value in wanted.items():
                setattr(row, key, value)
            row.present, row.last_seen_at = True, now
            row.save()
            report.updated.append(name)
    for name, row in existing.items():
        if (
            row.source == AgentDefinition.SOURCE_DISCOVERED
            and row.present
            and name not in result.agents
        ):
            row.present = False
            row.save(update_fields=["present"])
            report.gone.append(name)
    if report.created or report.updated or report.gone:
        logger.info("agent definitions: %s", report)
    for message in report.errors:
        logger.warning("agent file skipped: %s", message)
    return report


class AgentWatcher:
    """Rescans the agent directories; syncs only when something changed on disk."""

    def __init__(self, scanner: AgentDirectoryScanner | None = None) -> None:
        self.scanner = scanner or configured_scanner()

    def poll(self) -> SyncReport | None:
        result = self.scanner.scan()
        if not result.changed:
            return None
        return sync_agents(result)
