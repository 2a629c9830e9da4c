"""routing.agent_sync: AgentDefinition rows kept in step with agent files on disk.

Uses the test database (`db`); agent files are written to pytest's tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from routing.agent_sync import AgentWatcher, sync_agents
from routing.agents import AgentDirectoryScanner, ScanResult, fingerprint, parse_agent_file
from routing.models import AgentDefinition, ConfigVersion, Provider, SubagentMapping

REVIEWER_BODY = "You are a senior code reviewer.\n\nFind real problems, not style nits."
PLANNER_BODY = "You are a planner. Break the task into steps."
NANOSECONDS = 1_000_000_000


def agent_file(name: str, body: str, *, model: str = "sonnet", tools: str = "Read, Grep") -> str:
    return (
        f"---\nname: {name}\ndescription: The {name} agent.\nmodel: {model}\n"
        f"tools: {tools}\n---\n\n{body}\n"
    )


def agent(name: str, body: str, source: str = "", **kw: str):
    return parse_agent_file(agent_file(name, body, **kw), source=source or f"/agents/{name}.md")


def scan(*agents, errors: list[tuple[Path, str]] | None = None) -> ScanResult:
    return ScanResult(agents={a.name: a for a in agents}, errors=errors or [], changed=True)


def config_version() -> int:
    return ConfigVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def touch_later(path: Path, seconds: int = 5) -> None:
    """Move the file's mtime forward, as a later save would."""
    later = path.stat().st_mtime_ns + seconds * NANOSECONDS
    os.utime(path, ns=(later, later))


# --- sync_agents -----------------------------------------------------------------------------


def test_it_creates_new_agents_as_discovered_and_present(db) -> None:
    report = sync_agents(
        scan(agent("code-reviewer", REVIEWER_BODY), agent("planner", PLANNER_BODY))
    )
    assert sorted(report.created) == ["code-reviewer", "planner"]
    assert report.updated == report.gone == report.errors == []
    row = AgentDefinition.objects.get(name="code-reviewer")
    assert row.source == AgentDefinition.SOURCE_DISCOVERED
    assert row.present is True
    assert row.body == REVIEWER_BODY
    assert row.fingerprint == fingerprint(REVIEWER_BODY)
    assert row.description == "The code-reviewer agent."
    assert row.declared_model == "sonnet"
    assert row.tools == ["Read", "Grep"]
    assert row.path == "/agents/code-reviewer.md"
    assert row.last_seen_at is not None


def test_it_bumps_the_config_version_when_it_creates_an_agent(db) -> None:
    before = config_version()
    sync_agents(scan(agent("planner", PLANNER_BODY)))
    assert config_version() > before


def test_it_updates_the_body_and_fingerprint_of_a_changed_agent(db) -> None:
    sync_agents(scan(agent("code-reviewer", REVIEWER_BODY)))
    before = config_version()
    new_body = REVIEWER_BODY + "\n\nAlso check the tests."
    report = sync_agents(scan(agent("code-reviewer", new_body)))
    assert report.updated == ["code-reviewer"]
    assert report.created == []
    row = AgentDefinition.objects.get(name="code-reviewer")
    assert row.body == new_body
    assert row.fingerprint == fingerprint(new_body) != fingerprint(REVIEWER_BODY)
    assert config_version() > before


@pytest.mark.parametrize(
    "change",
    [{"model": "opus"}, {"tools": "Read, Grep, Bash"}],
    ids=["model", "tools"],
)
def test_it_updates_an_agent_whose_frontmatter_changed(db, change: dict[str, str]) -> None:
    sync_agents(scan(agent("code-reviewer", REVIEWER_BODY)))
    report = sync_agents(scan(agent("code-reviewer", REVIEWER_BODY, **change)))
    assert report.updated == ["code-reviewer"]
    row = AgentDefinition.objects.get(name="code-reviewer")
    assert (row.declared_model, row.tools) != ("sonnet", ["Read", "Grep"])


def test_it_does_not_save_unchanged_agents_again(db) -> None:
    found = scan(agent("code-reviewer", REVIEWER_BODY), agent("planner", PLANNER_BODY))
    sync_agents(found)
    seen_at = AgentDefinition.objects.get(name="planner").last_seen_at
    before = config_version()
    report = sync_agents(found)
    assert report.created == report.updated == report.gone == []
    assert config_version() == before
    assert AgentDefinition.objects.get(name="planner").last_seen_at == seen_at


def test_it_treats_a_reparsed_identical_file_as_unchanged(db) -> None:
    sync_agents(scan(agent("planner", PLANNER_BODY)))
    before = config_version()
    assert sync_agents(scan(agent("planner", PLANNER_BODY))).updated == []
    assert config_version() == before


def test_it_marks_agents_whose_file_is_gone_as_not_present(db) -> None:
    sync_agents(scan(agent("code-reviewer", REVIEWER_BODY), agent("planner", PLANNER_BODY)))
    before = config_version()
    report = sync_agents(scan(agent("planner", PLANNER_BODY)))
    assert report.gone == ["code-reviewer"]
    row = AgentDefinition.objects.get(name="code-reviewer")
    assert row.present is False
    assert row.body == REVIEWER_BODY  # kept, so a mapping to it survives
    assert AgentDefinition.objects.get(name="planner").present is True
    assert config_version() > before


def test_it_keeps_the_mapping_of_an_agent_whose_file_is_gone(db) -> None:
    sync_agents(scan(agent("code-reviewer", REVIEWER_BODY)))
    openai = Provider.objects.create(name="openai", wire_format="openai", base_url="https://o.x")
    SubagentMapping.objects.create(
        agent=AgentDefinition.objects.get(name="code-reviewer"),
        provider=openai,
        target_model="gpt-4o",
    )
    sync_agents(scan())
    assert SubagentMapping.objects.filter(agent__name="code-reviewer").exists()


def test_it_does_not_mark_a_gone_agent_again(db) -> None:
    sync_agents(scan(agent("planner", PLANNER_BODY)))
    sync_agents(scan())
    before = config_version()
    assert sync_agents(scan()).gone == []
    assert config_version() == before


def test_it_marks_an_agent_present_again_when_its_file_comes_back(db) -> None:
    sync_agents(scan(agent("planner", PLANNER_BODY)))
    sync_agents(scan())
    report = sync_agents(scan(agent("planner", PLANNER_BODY)))
    assert report.updated == ["planner"]
    assert AgentDefinition.objects.get(name="planner").present is True


def test_it_never_overwrites_an_uploaded_agent_with_a_file_of_the_same_name(db) -> None:
    AgentDefinition.objects.create(
        name="code-reviewer",
        body="The uploaded prompt.",
        fingerprint=fingerprint("The uploaded prompt."),
        source=AgentDefinition.SOURCE_UPLOADED,
    )
    before = config_version()
    report = sync_agents(scan(agent("code-reviewer", REVIEWER_BODY)))
    assert report.created == report.updated == []
    row = AgentDefinition.objects.get(name="code-reviewer")
    assert row.source == AgentDefinition.SOURCE_UPLOADED
    assert row.body == "The uploaded prompt."
    assert row.fingerprint == fingerprint("The uploaded prompt.")
    assert config_version() == before


def test_it_never_marks_an_uploaded_agent_gone(db) -> None:
    AgentDefinition.objects.create(
        name="remote-agent",
        body="Uploaded for a gateway on another machine.",
        fingerprint=fingerprint("Uploaded for a gateway on another machine."),
        source=AgentDefinition.SOURCE_UPLOADED,
    )
    assert sync_agents(scan()).gone == []
    assert AgentDefinition.objects.get(name="remote-agent").present is True


def test_it_reports_the_scans_errors(db) -> None:
    errors = [(Path("/agents/bad.md"), "/agents/bad.md: no YAML frontmatter")]
    report = sync_agents(scan(errors=errors))
    assert report.errors == ["/agents/bad.md: no YAML frontmatter"]
    assert str(report) == "0 new, 0 changed, 0 gone, 1 errors"


# --- AgentWatcher on a real directory ------------------------------------------------------


@pytest.fixture
def agents_dir(tmp_path: Path) -> Path:
    directory = tmp_path / ".claude" / "agents"
    directory.mkdir(parents=True)
    return directory


@pytest.fixture
def watcher(agents_dir: Path) -> AgentWatcher:
    return AgentWatcher(AgentDirectoryScanner([agents_dir]))


def test_it_picks_up_an_added_file(db, agents_dir: Path, watcher: AgentWatcher) -> None:
    watcher.poll()
    write(agents_dir / "code-reviewer.md", agent_file("code-reviewer", REVIEWER_BODY))
    report = watcher.poll()
    assert report is not None and report.created == ["code-reviewer"]
    row = AgentDefinition.objects.get(name="code-reviewer")
    assert row.present is True
    assert row.source == AgentDefinition.SOURCE_DISCOVERED
    assert row.path == str(agents_dir / "code-reviewer.md")
    assert row.fingerprint == fingerprint(REVIEWER_BODY)


def test_it_does_nothing_when_the_directory_did_not_change(
    db, agents_dir: Path, watcher: AgentWatcher
) -> None:
    write(agents_dir / "planner.md", agent_file("planner", PLANNER_BODY))
    assert watcher.poll() is not None
    before = config_version()
    assert watcher.poll() is None
    assert config_version() == before


def test_it_picks_up_an_edited_file(db, agents_dir: Path, watcher: AgentWatcher) -> None:
    path = write(agents_dir / "code-reviewer.md", agent_file("code-reviewer", REVIEWER_BODY))
    watcher.poll()
    new_body = REVIEWER_BODY.replace("senior", "strict")  # same size: only mtime shows it
    write(path, agent_file("code-reviewer", new_body))
    touch_later(path)
    report = watcher.poll()
    assert report is not None and report.updated == ["code-reviewer"]
    row = AgentDefinition.objects.get(name="code-reviewer")
    assert row.body == new_body
    assert row.fingerprint == fingerprint(new_body)


def test_it_picks_up_a_deleted_file(db, agents_dir: Path, watcher: AgentWatcher) -> None:
    path = write(agents_dir / "planner.md", agent_file("planner", PLANNER_BODY))
    write(agents_dir / "code-reviewer.md", agent_file("code-reviewer", REVIEWER_BODY))
    watcher.poll()
    path.unlink()
    report = watcher.poll()
    assert report is not None and report.gone == ["planner"]
    assert AgentDefinition.objects.get(name="planner").present is False
    assert AgentDefinition.objects.get(name="code-reviewer").present is True


def test_it_reports_a_broken_file_and_keeps_the_others(
    db, agents_dir: Path, watcher: AgentWatcher
) -> None:
    write(agents_dir / "planner.md", agent_file("planner", PLANNER_BODY))
    write(agents_dir / "broken.md", "no frontmatter here\n")
    report = watcher.poll()
    assert report is not None and report.created == ["planner"]
    assert len(report.errors) == 1 and "broken.md" in report.errors[0]
    assert not AgentDefinition.objects.filter(name="broken").exists()
