"""The catalogue rendered into Claude Code's format: .claude/agents/<name>.md and PAS's hooks in .claude/settings.json.

Rendering is a pure function of the catalogue, the project's existing settings and the PAS URL, so running it
twice gives byte-identical files and `check` can report drift (the repo's own .claude/ is committed).
"""

from __future__ import annotations

import json
import os
import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.agents.catalogue import Catalogue, CatalogueError
from config.settings import Settings
from contracts.agents import AgentConfig

HOOK_PATH = "/api/agent-router/hooks/claude-code"
# Events Claude Code 2.1.x fires for `http` hooks; SessionStart fires only for `command` hooks. A tool call that
# fails ends in PostToolUseFailure instead of PostToolUse.
HTTP_EVENTS = (
    "PreToolUse", "PostToolUse", "PostToolUseFailure", "SubagentStart", "SubagentStop", "Stop", "SessionEnd",
)  # fmt: skip
COMMAND_EVENTS = ("SessionStart",)
# Events whose matcher selects what fires (tool name, agent type): "*" matches all. The others take none.
MATCHED_EVENTS = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure", "SubagentStart", "SubagentStop"})
# Seconds. PAS answers in milliseconds; a PAS that is down or stalled must never hold Claude Code up.
HTTP_TIMEOUT_S = 1
COMMAND_TIMEOUT_S = 3
CURL_MAX_S = 1
TOKEN_ENV = "PAS_API_TOKEN"
# A YAML comment in the frontmatter (not part of the prompt) marks the files PAS owns in .claude/agents/.
MARKER = "# Rendered by PAS from agents/{name}.toml: edit that file, then run `pas agents install`."
MARKER_PREFIX = "# Rendered by PAS from agents/"


def base_url(settings: Settings) -> str:
    """PAS's main port as the hooks reach it: a wildcard bind address is reached on loopback."""
    host = settings.pas_host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.pas_port + settings.pas_port_offset}"


def hook_url(base: str) -> str:
    return base.rstrip("/") + HOOK_PATH


def render_agent(agent: AgentConfig) -> str:
    # JSON strings are YAML double-quoted scalars: any description is quoted safely.
    lines = [
        "---",
        MARKER.format(name=agent.name),
        f"name: {agent.name}",
        f"description: {json.dumps(agent.description, ensure_ascii=False)}",
        f"tools: {', '.join(agent.rights)}",
        f"model: {agent.claude_model}",
        "---",
        "",
        agent.system_prompt.strip(),
        "",
    ]
    return "\n".join(lines)


def session_start_command(url: str) -> str:
    """Posts the hook's stdin to PAS; silent (SessionStart stdout would reach the model) and always exit 0."""
    return (
        f"curl -s -o /dev/null -m {CURL_MAX_S} --connect-timeout 1 -X POST"
        " -H 'Content-Type: application/json'"
        f' -H "Authorization: Bearer ${{{TOKEN_ENV}:-}}"'
        f" --data-binary @- {shlex.quote(url)} >/dev/null 2>&1; exit 0"
    )


def pas_hooks(url: str) -> dict[str, list[dict[str, Any]]]:
    """PAS's hook groups per event, in Claude Code's settings.json schema."""
    hooks: dict[str, list[dict[str, Any]]] = {}
    for event in COMMAND_EVENTS:
        command = {"type": "command", "command": session_start_command(url), "timeout": COMMAND_TIMEOUT_S}
        hooks[event] = [{"hooks": [command]}]
    for event in HTTP_EVENTS:
        http = {
            "type": "http",
            "url": url,
            "headers": {"Authorization": f"Bearer ${TOKEN_ENV}"},
            "allowedEnvVars": [TOKEN_ENV],
            "timeout": HTTP_TIMEOUT_S,
        }
        group: dict[str, Any] = {"matcher": "*"} if event in MATCHED_EVENTS else {}
        group["hooks"] = [http]
        hooks[event] = [group]
    return hooks


def is_pas_hook(hook: object) -> bool:
    """PAS's own entries, whatever URL an earlier install used: replaced on install, never duplicated."""
    if not isinstance(hook, dict):
        return False
    if hook.get("type") == "http":
        return str(hook.get("url", "")).endswith(HOOK_PATH)
    if hook.get("type") == "command":
        return HOOK_PATH in str(hook.get("command", ""))
    return False


def merge_settings(existing: dict[str, Any], url: str, *, file: Path | None = None) -> dict[str, Any]:
    """The user's settings with PAS's hooks replaced: every other key, event, group and hook is kept in order."""
    merged = dict(existing)
    hooks = merged.get("hooks", {})
    if not isinstance(hooks, dict):
        raise CatalogueError("must be an object of events", file=file, field="hooks")
    out: dict[str, Any] = {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            raise CatalogueError("must be a list of matcher groups", file=file, field=f"hooks.{event}")
        kept = []
        for i, group in enumerate(groups):
            if not isinstance(group, dict) or not isinstance(group.get("hooks", []), list):
                raise CatalogueError("must be an object with a `hooks` list", file=file, field=f"hooks.{event}.{i}")
            own = [h for h in group.get("hooks", []) if not is_pas_hook(h)]
            if len(own) == len(group.get("hooks", [])):
                kept.append(group)
            elif own:
                kept.append({**group, "hooks": own})
            # a group that held only PAS's hooks goes; PAS's fresh one is appended below
        out[event] = kept
    for event, groups in pas_hooks(url).items():
        out[event] = [*out.get(event, []), *groups]
    merged["hooks"] = {e: g for e, g in out.items() if g}
    return merged


def dump_settings(settings: dict[str, Any]) -> str:
    return json.dumps(settings, indent=2, ensure_ascii=False) + "\n"


@dataclass
class Plan:
    """What the project's .claude/ should hold: path -> text, and PAS-rendered agent files to remove."""

    files: dict[Path, str]
    stale: list[Path] = field(default_factory=list)


def plan(catalogue: Catalogue, project: Path, url: str) -> Plan:
    claude = project / ".claude"
    agents_dir = claude / "agents"
    files = {agents_dir / f"{a.name}.md": render_agent(a) for a in catalogue.agents.values()}
    settings_path = claude / "settings.json"
    files[settings_path] = dump_settings(merge_settings(_read_settings(settings_path), url, file=settings_path))
    stale = []
    if agents_dir.is_dir():
        for path in sorted(agents_dir.glob("*.md")):
            if path not in files and _is_rendered(path):
                stale.append(path)
    return Plan(files, stale)


def install(catalogue: Catalogue, project: Path, url: str) -> list[Path]:
    """Writes what differs (each file atomically), removes PAS's files for agents no longer in the catalogue."""
    result = plan(catalogue, project, url)
    changed = []
    for path, text in result.files.items():
        if _read_text(path) != text:
            _write_atomic(path, text)
            changed.append(path)
    for path in result.stale:
        path.unlink()
        changed.append(path)
    return changed


def check(catalogue: Catalogue, project: Path, url: str) -> list[str]:
    """The drift between the project's .claude/ and the catalogue, one line per file; empty when in sync."""
    result = plan(catalogue, project, url)
    drift = []
    for path, text in result.files.items():
        current = _read_text(path)
        if current != text:
            drift.append(f"{path.relative_to(project)}: {'missing' if current is None else 'differs'}")
    drift += [f"{p.relative_to(project)}: no longer in the catalogue" for p in result.stale]
    return drift


def _read_settings(path: Path) -> dict[str, Any]:
    text = _read_text(path)
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"invalid JSON ({exc}); fix or remove it, nothing was written", file=path) from None
    if not isinstance(data, dict):
        raise CatalogueError("must be a JSON object; nothing was written", file=path)
    return data


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _is_rendered(path: Path) -> bool:
    head = (_read_text(path) or "").split("\n", 2)
    return len(head) > 1 and head[0] == "---" and head[1].startswith(MARKER_PREFIX)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
