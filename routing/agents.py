"""Claude Code agent definitions: parsing `.claude/agents/*.md` and watching their directories.

An agent file is YAML frontmatter between a first line `---` and the next line
that is `---`, then a Markdown body: the subagent's system prompt, which Claude
Code sends verbatim at the start of a system block (see `routing.subagents`).

What is kept: `name`, `description`, `model`, `tools` and the body, normalised
(line endings -> LF, surrounding whitespace trimmed). What is lost: other
frontmatter keys (`color`, `permissionMode`, ...) and the body's original line
endings and outer whitespace, which matching ignores anyway.

Pure Python, no Django: the admin and the discovery loop wrap these.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

#: Environment variable naming the agent directories, separated by `os.pathsep`.
AGENT_DIRS_ENV = "SWITCHBOARD_AGENT_DIRS"
#: Where Claude Code keeps agents, relative to the project and to the home directory.
CLAUDE_AGENTS_SUBDIR = Path(".claude") / "agents"
#: Claude Code reads only `*.md` files directly inside an agents directory.
AGENT_FILE_SUFFIX = ".md"
#: The line that opens and closes the frontmatter.
FRONTMATTER_FENCE = "---"
#: A byte-order mark some Windows editors put at the start of a file.
BYTE_ORDER_MARK = "\ufeff"
#: Hex digits kept from the SHA-256 digest; the Go claude-code-proxy keeps 16.
FINGERPRINT_HEX_DIGITS = 16
#: Separator of the comma-separated form of `tools: Read, Grep, Glob`.
TOOLS_SEPARATOR = ","


class AgentFileError(ValueError):
    """An agent file that cannot be parsed; the message says what and where."""


@dataclass(frozen=True)
class AgentDefinition:
    """One subagent as Claude Code sees it.

    `body` is normalised (LF line endings, trimmed); `fingerprint` is
    `fingerprint(body)`. `model` is None when the file names none (Claude Code
    then uses its default, currently `inherit`). An empty `tools` means the agent
    inherits every tool. `source` is where the definition came from (a path, or
    whatever the caller passed), for messages and the admin.
    """

    name: str
    description: str
    model: str | None
    tools: tuple[str, ...]
    body: str
    fingerprint: str
    source: str


def normalise(text: str) -> str:
    """`text` with CRLF and lone CR turned into LF, and surrounding whitespace stripped."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()


def fingerprint(body: str) -> str:
    """The first 16 hex digits of SHA-256 over the normalised body, encoded as UTF-8.

    For an LF body this is the value the Go claude-code-proxy computes
    (`sha256(strings.TrimSpace(prompt))[:16]`), so exported mappings and logs
    stay comparable.
    """
    digest = hashlib.sha256(normalise(body).encode("utf-8")).hexdigest()
    return digest[:FINGERPRINT_HEX_DIGITS]


def parse_agent_file(text: str, source: str = "") -> AgentDefinition:
    """Parse the text of an agent file. Raises AgentFileError.

    `source` is the file's path: its stem is the name when the frontmatter has
    none, and it prefixes error messages.
    """
    where = source or "<agent file>"
    unix_text = text.removeprefix(BYTE_ORDER_MARK).replace("\r\n", "\n").replace("\r", "\n")
    lines = unix_text.split("\n")
    if not _is_fence(lines[0]):
        raise AgentFileError(
            f"{where}: no YAML frontmatter: the first line must be {FRONTMATTER_FENCE!r}"
        )
    closing = next((index for index in range(1, len(lines)) if _is_fence(lines[index])), None)
    if closing is None:
        raise AgentFileError(
            f"{where}: unterminated frontmatter: no closing {FRONTMATTER_FENCE!r} line "
            f"after the one on line 1"
        )
    frontmatter = _load_frontmatter("\n".join(lines[1:closing]), where)
    # Everything after the closing fence is body, including any later `---` lines.
    body = normalise("\n".join(lines[closing + 1 :]))
    return AgentDefinition(
        name=_name(frontmatter, source, where),
        description=_optional_string(frontmatter, "description", where) or "",
        model=_optional_string(frontmatter, "model", where) or None,
        tools=_tools(frontmatter, where),
        body=body,
        fingerprint=fingerprint(body),
        source=source,
    )


def _is_fence(line: str) -> bool:
    # Trailing blanks are invisible in editors; tolerate them on the fence lines.
    return line.rstrip(" \t") == FRONTMATTER_FENCE


def _load_frontmatter(yaml_text: str, where: str) -> dict[str, object]:
    try:
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as error:
        raise AgentFileError(_yaml_error_message(error, where)) from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AgentFileError(
            f"{where}: frontmatter must be a mapping of keys to values, not a {type(data).__name__}"
        )
    return {str(key): value for key, value in data.items()}


def _yaml_error_message(error: yaml.YAMLError, where: str) -> str:
    """Say where in the *file* YAML failed: its marks count from the line after `---`."""
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    detail = f"{problem} ({context})" if context else problem
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return f"{where}: invalid YAML in frontmatter: {detail}"
    line = mark.line + 2  # 0-based within the frontmatter, which starts on file line 2
    column = mark.column + 1
    return f"{where}: invalid YAML in frontmatter at line {line}, column {column}: {detail}"


def _optional_string(data: Mapping[str, object], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise AgentFileError(
            f"{where}: frontmatter {key!r} must be a string, not {type(value).__name__}"
        )
    return str(value).strip()


def _name(data: Mapping[str, object], source: str, where: str) -> str:
    name = _optional_string(data, "name", where)
    if name:
        return name
    stem = Path(source).stem if source else ""
    if not stem:
        raise AgentFileError(f"{where}: frontmatter has no 'name' and there is no file name")
    return stem


def _tools(data: Mapping[str, object], where: str) -> tuple[str, ...]:
    value = data.get("tools")
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = list(value.split(TOOLS_SEPARATOR))
    elif isinstance(value, list):
        items = value
    else:
        raise AgentFileError(
            f"{where}: frontmatter 'tools' must be a list or a comma-separated string, "
            f"not {type(value).__name__}"
        )
    tools: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise AgentFileError(
                f"{where}: frontmatter 'tools' item {index} must be a string, "
                f"not {type(item).__name__}"
            )
        if item.strip():
            tools.append(item.strip())
    return tuple(tools)


def agent_dirs_from_env(value: str | None, cwd: Path, home: Path) -> list[Path]:
    """The agent directories to scan, earliest first (earlier wins on a name clash).

    `value` is the `SWITCHBOARD_AGENT_DIRS` setting: directories separated by
    `os.pathsep`; relative ones are taken from `cwd`, and a leading `~` means
    `home`. Unset or blank: the project's `.claude/agents`, then the user's.
    Duplicates are dropped, keeping the first.
    """
    entries = [entry.strip() for entry in (value or "").split(os.pathsep)]
    if any(entries):
        dirs = [_resolve_dir(entry, cwd, home) for entry in entries if entry]
    else:
        dirs = [cwd / CLAUDE_AGENTS_SUBDIR, home / CLAUDE_AGENTS_SUBDIR]
    return list(dict.fromkeys(dirs))


def _resolve_dir(entry: str, cwd: Path, home: Path) -> Path:
    if entry == "~" or entry.startswith("~/") or entry.startswith("~" + os.sep):
        return home / entry[2:]
    path = Path(entry)
    return path if path.is_absolute() else cwd / path


@dataclass(frozen=True)
class ScanResult:
    """What one scan found.

    `agents` by name; `errors` as (path, message) for files or directories that
    could not be read or parsed and for duplicate names within one directory;
    `changed` is False only when both equal the previous scan's.
    """

    agents: dict[str, AgentDefinition]
    errors: list[tuple[Path, str]]
    changed: bool


@dataclass(frozen=True)
class _CachedFile:
    stamp: tuple[int, int]  # (st_mtime_ns, st_size): re-read the file when it moves
    agent: AgentDefinition | None
    error: str | None


class AgentDirectoryScanner:
    """Reads `*.md` in each directory (not recursively, as Claude Code does).

    Directories earlier in the list win name clashes (the project before the
    user). Each scan re-reads only files whose (mtime_ns, size) changed since the
    previous scan and forgets deleted ones, so calling `scan()` every few seconds
    is cheap. A directory that does not exist is not an error: most projects have
    no agents. Not thread-safe: one caller scans.
    """

    def __init__(self, dirs: Sequence[Path]) -> None:
        self.dirs: tuple[Path, ...] = tuple(dirs)
        self._files: dict[Path, _CachedFile] = {}
        self._previous: tuple[dict[str, AgentDefinition], list[tuple[Path, str]]] | None = None

    def scan(self) -> ScanResult:
        """Look at the directories now; the first scan always reports `changed`."""
        seen: dict[Path, _CachedFile] = {}
        agents: dict[str, AgentDefinition] = {}
        errors: list[tuple[Path, str]] = []
        for directory in self.dirs:
            names_here: dict[str, Path] = {}
            for path in self._agent_files(directory, errors):
                cached = self._read(path)
                if cached is None:
                    continue  # deleted between listing and reading
                seen[path] = cached
                agent = cached.agent
                if agent is None:
                    errors.append((path, cached.error or f"{path}: unreadable"))
                    continue
                if agent.name in names_here:
                    errors.append(
                        (
                            path,
                            f"{path}: agent name {agent.name!r} is already defined by "
                            f"{names_here[agent.name]}; ignored",
                        )
                    )
                    continue
                names_here[agent.name] = path
                agents.setdefault(agent.name, agent)
        self._files = seen
        changed = self._previous is None or self._previous != (agents, errors)
        self._previous = (agents, errors)
        return ScanResult(agents=dict(agents), errors=list(errors), changed=changed)

    @staticmethod
    def _agent_files(directory: Path, errors: list[tuple[Path, str]]) -> list[Path]:
        """The agent files directly in `directory`, by name; dot files are editor droppings."""
        try:
            with os.scandir(directory) as entries:
                names = [
                    entry.name
                    for entry in entries
                    if entry.name.endswith(AGENT_FILE_SUFFIX)
                    and not entry.name.startswith(".")
                    and entry.is_file()
                ]
        except FileNotFoundError:
            return []
        except OSError as error:
            errors.append((directory, f"{directory}: cannot list agents: {error.strerror}"))
            return []
        return [directory / name for name in sorted(names)]

    def _read(self, path: Path) -> _CachedFile | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        except OSError as error:
            return _CachedFile((0, 0), None, f"{path}: cannot read: {error.strerror}")
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._files.get(path)
        if cached is not None and cached.stamp == stamp:
            return cached
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError as error:
            return _CachedFile(stamp, None, f"{path}: not UTF-8 text (byte {error.start})")
        except OSError as error:
            return _CachedFile(stamp, None, f"{path}: cannot read: {error.strerror}")
        try:
            return _CachedFile(stamp, parse_agent_file(text, source=str(path)), None)
        except AgentFileError as error:
            return _CachedFile(stamp, None, str(error))
