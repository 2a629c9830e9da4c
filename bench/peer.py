"""The peer gateway the benchmark compares against: LiteLLM proxy, in its own venv.

`ensure_litellm()` creates `bench/.peer-venv` (gitignored) with `python -m venv`
and installs the pinned `litellm[proxy]` from PyPI into it unless that version
is already there; `litellm_launch()` writes its config to the run's temporary
directory and says how to start it, for `BenchStack.start_peer` (which pins
it to the gateway's core).

The config routes the same two model names the gateway serves to the same
mock: `claude-sonnet-4-5` to an Anthropic-format deployment (LiteLLM passes
`/v1/messages` through to the mock's `/v1/messages`) and `bench-openai` to an
OpenAI-format one at the mock's `/v1` (LiteLLM translates to Chat
Completions). Nothing else: no database (no DATABASE_URL), spend logs and
error logs off, no callbacks, telemetry off, one worker, the bundled model
cost map instead of a download. No master key either (LiteLLM 1.108 refuses
to start without one unless told that is intended), so LiteLLM skips its
key checks: that favours the peer.

`use_chat_completions_url_for_anthropic_messages` is set because LiteLLM
1.108 otherwise sends `/v1/messages` requests for `openai/*` models to the
Responses API (`/v1/responses`); the gateway translates to Chat
Completions, and so does LiteLLM with this flag, so both do the same work.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from bench.processes import ROOT, free_port
from bench.stack import TRANSLATED_ALIAS, PeerLaunch
from bench.wire import anthropic, openai

PEERS = ("litellm",)
PEER_VENV = ROOT / "bench" / ".peer-venv"
LITELLM_VERSION = "1.108.7"
LITELLM_REQUIREMENT = f"litellm[proxy]=={LITELLM_VERSION}"
#: Creating the venv and installing LiteLLM and its dependencies from PyPI.
INSTALL_TIMEOUT_S = 1200.0
VERSION_TIMEOUT_S = 60.0
LITELLM_HEALTH_PATH = "/health/liveliness"
#: Placeholder upstream keys: the mock accepts anything.
UPSTREAM_ANTHROPIC_KEY = "sk-ant-bench-not-a-real-key"
UPSTREAM_OPENAI_KEY = "sk-bench-not-a-real-key"
LITELLM_ENV: Mapping[str, str] = {
    # No master key on a loopback-only benchmark; LiteLLM refuses to start without this.
    "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
    # The cost map bundled with the package; no download at start.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "PYTHONUNBUFFERED": "1",
}


def venv_python(venv: Path = PEER_VENV) -> Path:
    return venv / "bin" / "python"


def installed_litellm_version(venv: Path = PEER_VENV) -> str | None:
    """The LiteLLM version in `venv`, or None when there is no venv or no LiteLLM in it."""
    python = venv_python(venv)
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        timeout=VERSION_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _run_checked(command: list[str], what: str) -> None:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{(done.stdout + done.stderr)[-4000:]}")


def ensure_litellm(progress: Callable[[str], None], venv: Path = PEER_VENV) -> str:
    """Install the pinned LiteLLM proxy into `venv` unless it is there; its version."""
    version = installed_litellm_version(venv)
    if version == LITELLM_VERSION:
        return version
    if not venv_python(venv).exists():
        progress(f"creating {venv} ...")
        _run_checked([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    progress(f"installing {LITELLM_REQUIREMENT} into {venv} (first run only; minutes) ...")
    _run_checked(
        [str(venv_python(venv)), "-m", "pip", "install", "--quiet", LITELLM_REQUIREMENT],
        f"pip install {LITELLM_REQUIREMENT}",
    )
    version = installed_litellm_version(venv)
    if version != LITELLM_VERSION:
        raise RuntimeError(f"expected LiteLLM {LITELLM_VERSION} in {venv}, found {version}")
    return version


def litellm_config(mock_url: str) -> dict[str, object]:
    """The proxy config: both models at the mock, and every optional feature off."""
    return {
        "model_list": [
            {
                "model_name": anthropic.MODEL,
                "litellm_params": {
                    "model": f"anthropic/{anthropic.MODEL}",
                    "api_base": mock_url,
                    "api_key": UPSTREAM_ANTHROPIC_KEY,
                },
            },
            {
                "model_name": TRANSLATED_ALIAS,
                "litellm_params": {
                    "model": f"openai/{openai.MODEL}",
                    "api_base": mock_url + "/v1",
                    "api_key": UPSTREAM_OPENAI_KEY,
                },
            },
        ],
        "litellm_settings": {
            "telemetry": False,
            "callbacks": [],
            "success_callback": [],
            "failure_callback": [],
            "set_verbose": False,
            "use_chat_completions_url_for_anthropic_messages": True,
        },
        "general_settings": {
            "disable_spend_logs": True,
            "disable_error_logs": True,
        },
    }


def litellm_launch(workdir: Path, mock_url: str, env: Mapping[str, str]) -> PeerLaunch:
    """Write the config into `workdir`; the command for one LiteLLM worker on a free port."""
    config = workdir / "litellm.yaml"
    config.write_text(yaml.safe_dump(litellm_config(mock_url), sort_keys=False))
    port = free_port()
    command = (
        str(PEER_VENV / "bin" / "litellm"),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
        "--telemetry",
        "False",
    )
    return PeerLaunch(
        name="litellm",
        command=command,
        env={**env, **LITELLM_ENV},
        port=port,
        health_path=LITELLM_HEALTH_PATH,
        cwd=workdir,
    )
