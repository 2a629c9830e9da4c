"""What an import did (or would do, on a dry run): rows created, updated, unchanged, deleted."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("providers", "credentials", "agents", "aliases", "mappings", "rules")


@dataclass
class KindReport:
    """The names of one kind of row, by what happened to them."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "deleted": len(self.deleted),
        }


@dataclass
class ApplyReport:
    """What an import did (or would do, on a dry run), by kind of row."""

    kinds: dict[str, KindReport] = field(default_factory=lambda: {k: KindReport() for k in KINDS})
    #: Mapped agents with no definition yet: routed once discovered on disk or uploaded.
    waiting_for_agent_file: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    def counts(self) -> dict[str, dict[str, int]]:
        return {kind: report.counts() for kind, report in self.kinds.items()}

    def __str__(self) -> str:
        lines = []
        for kind, report in self.kinds.items():
            counts = ", ".join(f"{n} {what}" for what, n in report.counts().items())
            lines.append(f"{kind + ':':<13}{counts}")
        if self.waiting_for_agent_file:
            lines.append("waiting for agent file: " + ", ".join(self.waiting_for_agent_file))
        return "\n".join(lines)
