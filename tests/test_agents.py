"""routing.agents: agent file parsing, fingerprints, agent directories and the scanner.

Pure Python: no database, no Django.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from routing.agents import (
    AgentDefinition,
    AgentDirectoryScanner,
    AgentFileError,
    agent_dirs_from_env,
    fingerprint,
    normalise,
    parse_agent_file,
)

AGENTS = Path(__file__).parent / "fixtures" / "claude_code" / "agents"
#: sha256("You are an expert engineer.")[:16]: the prompt of the Go claude-code-proxy's
#: extractStaticPrompt test vector, as its hashString would report it.
GO_PROXY_EXPERT_ENGINEER = "3feccd88f8f1e57f"
NANOSECONDS = 1_000_000_000


def agent_text(frontmatter: str, body: str = "You are a careful reviewer.") -> str:
    return f"---\n{frontmatter}\n---\n{body}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def touch_later(path: Path, seconds: int = 5) -> None:
    """Move the file's mtime forward, as a later save would."""
    stat = path.stat()
    later = stat.st_mtime_ns + seconds * NANOSECONDS
    os.utime(path, ns=(later, later))


# Parsing


def test_it_parses_a_claude_code_agent_file():
    path = AGENTS / "code-reviewer.md"
    agent = parse_agent_file(path.read_text(), source=str(path))
    assert agent.name == "code-reviewer"
    assert agent.description.startswith("Use this agent right after writing or changing code")
    assert "<example>" in agent.description
    assert agent.model == "sonnet"
    assert agent.tools == ("Read", "Grep", "Glob", "Bash")
    assert agent.body.startswith("You are a senior code reviewer.")
    assert agent.body.endswith("say so in one sentence.")
    assert agent.source == str(path)


def test_it_reads_tools_given_as_a_yaml_list_and_names_the_agent_after_its_file():
    path = AGENTS / "test-runner.md"
    agent = parse_agent_file(path.read_text(), source=str(path))
    assert agent.name == "test-runner"
    assert agent.tools == ("Bash", "Read", "Edit")
    assert agent.model == "haiku"


def test_it_reads_tools_given_as_a_comma_separated_string():
    agent = parse_agent_file(agent_text("name: a\ntools: Read,  Grep ,Glob,"))
    assert agent.tools == ("Read", "Grep", "Glob")


def test_it_reads_a_single_tool_string():
    assert parse_agent_file(agent_text("name: a\ntools: Read")).tools == ("Read",)


def test_it_leaves_tools_empty_when_the_agent_inherits_them():
    assert parse_agent_file(agent_text("name: a")).tools == ()


def test_it_leaves_the_model_unset_when_absent():
    assert parse_agent_file(agent_text("name: a")).model is None


@pytest.mark.parametrize(
    "model", ["haiku", "sonnet", "opus", "inherit", "claude-opus-4-5-20251101"]
)
def test_it_keeps_the_model_as_written(model):
    assert parse_agent_file(agent_text(f"name: a\nmodel: {model}")).model == model


def test_it_defaults_the_description_to_empty():
    assert parse_agent_file(agent_text("name: a")).description == ""


def test_it_prefers_the_frontmatter_name_to_the_file_name():
    agent = parse_agent_file(agent_text("name: planner"), source="/x/other.md")
    assert agent.name == "planner"


def test_it_names_the_agent_after_the_file_when_the_name_is_blank():
    agent = parse_agent_file(agent_text("name: ''"), source="/x/.claude/agents/planner.md")
    assert agent.name == "planner"


def test_it_rejects_a_nameless_agent_without_a_source():
    with pytest.raises(AgentFileError, match="no 'name'"):
        parse_agent_file(agent_text("description: d"))


def test_it_keeps_a_dashes_line_inside_the_body_as_body_text():
    text = "---\nname: a\n---\nFirst part.\n---\nSecond part.\n\n---\n"
    assert parse_agent_file(text).body == "First part.\n---\nSecond part.\n\n---"


def test_it_accepts_an_empty_frontmatter_and_an_empty_body():
    agent = parse_agent_file("---\n---\n", source="empty.md")
    assert (agent.name, agent.body) == ("empty", "")


def test_it_parses_a_crlf_file_like_the_lf_file():
    path = AGENTS / "code-reviewer.md"
    lf = parse_agent_file(path.read_text(), source=str(path))
    crlf = parse_agent_file(path.read_text().replace("\n", "\r\n"), source=str(path))
    assert crlf == lf
    assert "\r" not in crlf.body


def test_it_ignores_a_byte_order_mark():
    agent = parse_agent_file("\ufeff" + agent_text("name: a"))
    assert agent.name == "a"


def test_it_tolerates_trailing_blanks_on_the_fence_lines():
    assert parse_agent_file("--- \nname: a\n---\t\nBody.").body == "Body."


def test_it_ignores_keys_it_does_not_use():
    agent = parse_agent_file(agent_text("name: a\ncolor: blue\npermissionMode: plan"))
    assert agent.name == "a"


def test_it_reports_invalid_yaml_with_the_line_number_in_the_file():
    text = agent_text(
        'name: reviewer\ndescription: Reviews code. Examples: user: "review this"\nmodel: sonnet'
    )
    with pytest.raises(AgentFileError) as error:
        parse_agent_file(text, source="agents/reviewer.md")
    message = str(error.value)
    assert message.startswith("agents/reviewer.md: invalid YAML in frontmatter at line 3, column ")
    assert "mapping values are not allowed here" in message


def test_it_reports_an_unclosed_quote_with_its_line():
    with pytest.raises(AgentFileError, match=r"at line \d+, column \d+"):
        parse_agent_file(agent_text('name: a\ndescription: "never closed'), source="a.md")


def test_it_rejects_a_file_without_frontmatter():
    with pytest.raises(
        AgentFileError, match=r"^b\.md: no YAML frontmatter: the first line must be"
    ):
        parse_agent_file("# Reviewer\n\nYou review code.\n", source="b.md")


def test_it_rejects_an_empty_file():
    with pytest.raises(AgentFileError, match="no YAML frontmatter"):
        parse_agent_file("", source="empty.md")


def test_it_rejects_an_unterminated_frontmatter():
    with pytest.raises(AgentFileError, match=r"^c\.md: unterminated frontmatter"):
        parse_agent_file("---\nname: c\nYou review code.\n", source="c.md")


def test_it_rejects_a_frontmatter_that_is_not_a_mapping():
    with pytest.raises(AgentFileError, match="must be a mapping of keys to values, not a list"):
        parse_agent_file(agent_text("- name\n- description"), source="d.md")


@pytest.mark.parametrize(
    ("frontmatter", "complaint"),
    [
        ("name: a\ntools: 3", "'tools' must be a list or a comma-separated string, not int"),
        ("name: a\ntools: [Read, 3]", "'tools' item 1 must be a string, not int"),
        ("name: [a, b]", "'name' must be a string, not list"),
        ("name: a\nmodel: true", "'model' must be a string, not bool"),
    ],
)
def test_it_rejects_fields_of_the_wrong_type(frontmatter, complaint):
    with pytest.raises(AgentFileError, match=complaint.replace("[", r"\[")):
        parse_agent_file(agent_text(frontmatter), source="e.md")


# Normalising and fingerprints


def test_it_normalises_line_endings_and_trims():
    assert normalise("  \r\nOne\r\nTwo\rThree\n\n ") == "One\nTwo\nThree"


def test_it_fingerprints_the_trimmed_body_like_the_go_proxy():
    assert fingerprint("You are an expert engineer.") == GO_PROXY_EXPERT_ENGINEER
    assert fingerprint("\n  You are an expert engineer.\r\n\n") == GO_PROXY_EXPERT_ENGINEER
    expected = hashlib.sha256(b"You are an expert engineer.").hexdigest()[:16]
    assert GO_PROXY_EXPERT_ENGINEER == expected


def test_it_fingerprints_utf8_bytes():
    assert fingerprint("Réviseur ✓") == hashlib.sha256("Réviseur ✓".encode()).hexdigest()[:16]


def test_it_stores_the_fingerprint_of_the_body():
    agent = parse_agent_file(agent_text("name: a", body="\nYou are an expert engineer.\n\n"))
    assert agent.fingerprint == GO_PROXY_EXPERT_ENGINEER


def test_it_gives_a_crlf_body_the_fingerprint_of_the_lf_body():
    assert fingerprint("One\r\nTwo") == fingerprint("One\nTwo")


# Agent directories


def test_it_defaults_to_the_project_then_the_user_agents_directory():
    dirs = agent_dirs_from_env(None, cwd=Path("/srv/app"), home=Path("/home/dev"))
    assert dirs == [Path("/srv/app/.claude/agents"), Path("/home/dev/.claude/agents")]


def test_it_treats_a_blank_setting_as_unset():
    dirs = agent_dirs_from_env(f" {os.pathsep} ", cwd=Path("/srv/app"), home=Path("/home/dev"))
    assert dirs == [Path("/srv/app/.claude/agents"), Path("/home/dev/.claude/agents")]


def test_it_reads_a_path_separated_list_in_order():
    value = os.pathsep.join(["/opt/agents", "team/agents", "", "~/mine", "~"])
    dirs = agent_dirs_from_env(value, cwd=Path("/srv/app"), home=Path("/home/dev"))
    assert dirs == [
        Path("/opt/agents"),
        Path("/srv/app/team/agents"),
        Path("/home/dev/mine"),
        Path("/home/dev"),
    ]


def test_it_lists_a_directory_once():
    assert agent_dirs_from_env(None, cwd=Path("/home/dev"), home=Path("/home/dev")) == [
        Path("/home/dev/.claude/agents")
    ]


# Scanner


def test_it_finds_the_agents_in_a_directory(tmp_path):
    write(tmp_path / "reviewer.md", agent_text("name: reviewer"))
    write(tmp_path / "planner.md", agent_text("name: planner\nmodel: opus"))
    result = AgentDirectoryScanner([tmp_path]).scan()
    assert sorted(result.agents) == ["planner", "reviewer"]
    assert result.agents["planner"].source == str(tmp_path / "planner.md")
    assert result.errors == []
    assert result.changed


def test_it_reports_an_unchanged_directory_as_unchanged_without_rereading(tmp_path):
    write(tmp_path / "reviewer.md", agent_text("name: reviewer"))
    scanner = AgentDirectoryScanner([tmp_path])
    first = scanner.scan()
    second = scanner.scan()
    assert not second.changed
    assert second.agents["reviewer"] is first.agents["reviewer"]


def test_it_picks_up_an_added_file(tmp_path):
    write(tmp_path / "reviewer.md", agent_text("name: reviewer"))
    scanner = AgentDirectoryScanner([tmp_path])
    scanner.scan()
    write(tmp_path / "planner.md", agent_text("name: planner"))
    result = scanner.scan()
    assert result.changed
    assert sorted(result.agents) == ["planner", "reviewer"]


def test_it_picks_up_a_changed_file_of_the_same_size(tmp_path):
    path = write(tmp_path / "reviewer.md", agent_text("name: reviewer", body="Be strict."))
    scanner = AgentDirectoryScanner([tmp_path])
    assert scanner.scan().agents["reviewer"].body == "Be strict."
    path.write_text(agent_text("name: reviewer", body="Be gentle."), encoding="utf-8")
    touch_later(path)
    result = scanner.scan()
    assert result.changed
    assert result.agents["reviewer"].body == "Be gentle."


def test_it_rereads_only_files_whose_stamp_moved(tmp_path):
    path = write(tmp_path / "reviewer.md", agent_text("name: reviewer", body="Be strict."))
    scanner = AgentDirectoryScanner([tmp_path])
    scanner.scan()
    stamp = path.stat()
    path.write_text(agent_text("name: reviewer", body="Be gentle."), encoding="utf-8")
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same size, same mtime
    result = scanner.scan()
    assert not result.changed
    assert result.agents["reviewer"].body == "Be strict."


def test_it_notices_a_deleted_file(tmp_path):
    write(tmp_path / "reviewer.md", agent_text("name: reviewer"))
    planner = write(tmp_path / "planner.md", agent_text("name: planner"))
    scanner = AgentDirectoryScanner([tmp_path])
    scanner.scan()
    planner.unlink()
    result = scanner.scan()
    assert result.changed
    assert list(result.agents) == ["reviewer"]


def test_it_lets_the_earlier_directory_win_a_name_clash(tmp_path):
    project, user = tmp_path / "project", tmp_path / "user"
    write(project / "reviewer.md", agent_text("name: reviewer", body="Project reviewer."))
    write(user / "reviewer.md", agent_text("name: reviewer", body="User reviewer."))
    write(user / "planner.md", agent_text("name: planner"))
    scanner = AgentDirectoryScanner([project, user])
    result = scanner.scan()
    assert result.agents["reviewer"].body == "Project reviewer."
    assert "planner" in result.agents
    assert result.errors == []
    (project / "reviewer.md").unlink()
    result = scanner.scan()
    assert result.changed
    assert result.agents["reviewer"].body == "User reviewer."


def test_it_reports_a_duplicate_name_within_one_directory(tmp_path):
    write(tmp_path / "a.md", agent_text("name: reviewer", body="First."))
    write(tmp_path / "b.md", agent_text("name: reviewer", body="Second."))
    result = AgentDirectoryScanner([tmp_path]).scan()
    assert result.agents["reviewer"].body == "First."
    [(path, message)] = result.errors
    assert path == tmp_path / "b.md"
    assert "already defined by" in message


def test_it_reports_a_broken_file_and_keeps_the_others(tmp_path):
    write(tmp_path / "reviewer.md", agent_text("name: reviewer"))
    broken = write(tmp_path / "broken.md", "no frontmatter here\n")
    scanner = AgentDirectoryScanner([tmp_path])
    result = scanner.scan()
    assert list(result.agents) == ["reviewer"]
    assert result.errors == [
        (broken, f"{broken}: no YAML frontmatter: the first line must be '---'")
    ]
    broken.write_text(agent_text("name: fixed"), encoding="utf-8")
    touch_later(broken)
    result = scanner.scan()
    assert result.changed
    assert result.errors == []
    assert sorted(result.agents) == ["fixed", "reviewer"]


def test_it_reports_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin.md"
    path.write_bytes(b"---\nname: caf\xe9\n---\nBody.\n")
    [(where, message)] = AgentDirectoryScanner([tmp_path]).scan().errors
    assert where == path
    assert "not UTF-8" in message


def test_it_reads_only_markdown_files_directly_in_the_directory(tmp_path):
    write(tmp_path / "reviewer.md", agent_text("name: reviewer"))
    write(tmp_path / "notes.txt", agent_text("name: notes"))
    write(tmp_path / ".reviewer.md.swp.md", agent_text("name: swap"))
    write(tmp_path / "nested" / "deep.md", agent_text("name: deep"))
    (tmp_path / "dir.md").mkdir()
    assert list(AgentDirectoryScanner([tmp_path]).scan().agents) == ["reviewer"]


def test_it_skips_a_missing_directory_quietly(tmp_path):
    result = AgentDirectoryScanner([tmp_path / "absent"]).scan()
    assert result == type(result)(agents={}, errors=[], changed=True)


def test_it_reports_a_path_that_is_not_a_directory(tmp_path):
    path = write(tmp_path / "agents", "a file")
    [(where, message)] = AgentDirectoryScanner([path]).scan().errors
    assert where == path
    assert "cannot list agents" in message


def test_it_returns_copies_the_caller_may_change(tmp_path):
    write(tmp_path / "reviewer.md", agent_text("name: reviewer"))
    scanner = AgentDirectoryScanner([tmp_path])
    scanner.scan().agents.clear()
    result = scanner.scan()
    assert not result.changed
    assert isinstance(result.agents["reviewer"], AgentDefinition)
