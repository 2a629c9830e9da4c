"""The real Claude Code CLI, through a real gateway: a subagent's calls go to its mapping.

The CLI (pinned in tests/claude_code/install.sh, installed on first use) runs in
a temporary project whose `.claude/agents/code-reviewer.md` defines a subagent.
Its main conversation goes to the default `anthropic` provider, a fake scripted
by `MainAgentScript` to call the Agent tool for `code-reviewer` and then end
with DONE-MAIN. The gateway knows the agent (its row is created from the same
file) and maps it to the `mapped` provider, a second fake answering REVIEW-OK.

What it shows: the subagent's request, as the CLI really builds it, is matched
and routed to `mapped:mapped-model`; the main agent's requests are not; the
subagent's answer comes back to the main agent through the CLI; the log rows
say so. Needs npm on the first run (the test fails, not skips, without it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from requestlog.models import RequestLog
from routing.agents import parse_agent_file
from routing.models import AgentDefinition, Provider, SubagentMapping
from tests.claude_code.script import (
    MainAgentScript,
    body_of,
    kinds,
    system_texts,
    tool_results,
)
from tests.fakes.upstream import AnthropicMessage, FakeUpstream, ReceivedRequest

HERE = Path(__file__).parent / "claude_code"
INSTALL_SCRIPT = HERE / "install.sh"
SAMPLE_PROJECT = HERE / "project"
AGENT_FILE = Path(".claude") / "agents" / "code-reviewer.md"
INSTALL_TIMEOUT = 300.0
CLI_TIMEOUT = 120.0
PROMPT = "Use the code-reviewer agent to review hello.py"
SUBAGENT_PROMPT = "Review hello.py"
MAIN_ANSWER = "DONE-MAIN"
SUBAGENT_ANSWER = "REVIEW-OK"
MAPPED_MODEL = "mapped-model"
#: The CLI's subagent marks: this header, and this field in system block [0]'s billing line.
AGENT_ID_HEADER = "x-claude-code-agent-id"
SUBAGENT_BILLING_FIELD = "cc_is_subagent=true"
#: How the CLI's requests are told apart in the log: `claude-cli/VERSION (external, sdk-cli)`.
CLI_USER_AGENT = "claude-cli/"


@pytest.fixture(scope="session")
def claude_cli() -> Path:
    """The pinned `claude` executable, installed with npm if it is not there yet."""
    try:
        done = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{INSTALL_SCRIPT} did not finish within {INSTALL_TIMEOUT:.0f} s")
    if done.returncode != 0:
        pytest.fail(
            f"could not install the Claude Code CLI ({INSTALL_SCRIPT} exited "
            f"{done.returncode}); it needs Node.js and npm with access to the npm "
            f"registry:\n{done.stderr[-3000:]}"
        )
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def mapped_upstream() -> Iterator[FakeUpstream]:
    """The `mapped` provider's fake: every request gets REVIEW-OK, end_turn."""
    with FakeUpstream() as fake:
        fake.set_default(AnthropicMessage(SUBAGENT_ANSWER))
        yield fake


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(SAMPLE_PROJECT, target)
    return target


def run_claude(cli: Path, cwd: Path, home: Path, gateway_url: str) -> subprocess.CompletedProcess:
    """`claude -p` with a clean environment: only what the CLI needs, nothing from ours."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "ANTHROPIC_BASE_URL": gateway_url,
        "ANTHROPIC_API_KEY": "sk-ant-fake",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    command = [str(cli), "-p", PROMPT, "--output-format", "json"]
    # Root may not use --dangerously-skip-permissions; allow the subagent tool by name.
    command += ["--allowedTools", "Agent Task Read Grep"]
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"claude did not finish within {CLI_TIMEOUT:.0f} s: {error.stderr!r}")


def is_subagent_request(received: ReceivedRequest) -> bool:
    """Whether the CLI marked `received` as a subagent's call (header or billing line)."""
    texts = system_texts(body_of(received))
    return bool(received.headers.get(AGENT_ID_HEADER)) or any(
        SUBAGENT_BILLING_FIELD in text for text in texts
    )


def test_claude_code_subagent_calls_go_to_the_mapped_provider(
    claude_cli, project, tmp_path, anthropic_provider, fake_upstream, mapped_upstream, start_gateway
):
    agent = parse_agent_file((project / AGENT_FILE).read_text(encoding="utf-8"))
    row = AgentDefinition.objects.create(
        name=agent.name,
        body=agent.body,
        fingerprint=agent.fingerprint,
        description=agent.description,
        declared_model=agent.model or "",
        tools=list(agent.tools),
        source="uploaded",
    )
    mapped = Provider.objects.create(
        name="mapped", wire_format="anthropic", base_url=mapped_upstream.url, enabled=True
    )
    SubagentMapping.objects.create(agent=row, provider=mapped, target_model=MAPPED_MODEL)
    script = MainAgentScript(agent.name, SUBAGENT_PROMPT, final_text=MAIN_ANSWER)
    fake_upstream.set_default(script)
    gateway = start_gateway()

    done = run_claude(claude_cli, project, tmp_path / "home", gateway.url)

    context = (
        f"exit {done.returncode}\nstdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-3000:]}\n"
        f"main fake saw: {kinds(script, fake_upstream.requests)}\n"
        f"mapped fake saw: {[(r.method, r.path) for r in mapped_upstream.requests]}\n"
        f"gateway: {gateway.output()[-2000:]}"
    )
    assert done.returncode == 0, context
    result = json.loads(done.stdout)
    assert result["is_error"] is False, context
    assert result["result"] == MAIN_ANSWER, context

    # The subagent's call, and only it, reached `mapped`, renamed to the mapped model.
    assert len(mapped_upstream.requests) == 1, context
    sub = mapped_upstream.requests[0]
    assert (sub.method, sub.path) == ("POST", "/v1/messages"), context
    assert is_subagent_request(sub), context
    sub_body = body_of(sub)
    assert sub_body["model"] == MAPPED_MODEL
    assert any(text.startswith(agent.body) for text in system_texts(sub_body)), sub_body["system"]
    assert SUBAGENT_PROMPT in json.dumps(sub_body["messages"])

    # The main agent's calls stayed on `anthropic`; its last one carried REVIEW-OK back.
    posts = [r for r in fake_upstream.requests if r.method == "POST"]
    assert [script.classify(r) for r in posts][-2:] == ["delegate", "final"], context
    assert not any(is_subagent_request(r) for r in posts), context
    assert not any(agent.body in text for r in posts for text in system_texts(body_of(r)))
    final_results = tool_results(body_of(posts[-1]))
    assert SUBAGENT_ANSWER in json.dumps(final_results), final_results

    gateway.stop()  # the writer flushes on shutdown
    rows = [
        r
        for r in RequestLog.objects.order_by("started_at", "id")
        if r.user_agent.startswith(CLI_USER_AGENT)
    ]
    summary = [(r.method, r.path, r.status, r.provider, r.route, r.subagent) for r in rows]
    subagent_rows = [r for r in rows if r.subagent]
    assert [(r.subagent, r.route, r.provider, r.target_model) for r in subagent_rows] == [
        (agent.name, "subagent", "mapped", MAPPED_MODEL)
    ], summary
    assert subagent_rows[0].status == 200, summary
    assert "sonnet" in subagent_rows[0].requested_model  # the CLI's id for `model: sonnet`
    # The main agent's turns: the first routed by default, later ones kept there (sticky).
    main_rows = [r for r in rows if not r.subagent]
    assert len(main_rows) == len(posts), summary
    assert {(r.provider, r.status) for r in main_rows} == {("anthropic", 200)}, summary
    assert main_rows[0].route == "default", summary
    assert {r.route for r in main_rows} <= {"default", "sticky"}, summary
