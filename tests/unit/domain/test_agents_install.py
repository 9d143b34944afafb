"""`pas agents install`: agent files in Claude Code's format, PAS's hooks merged into the user's settings.json
(their own hooks kept, idempotent), and the committed .claude/ of this repo checked against agents/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.domain.agents import claude_code
from app.domain.agents.catalogue import Catalogue, CatalogueError, load_catalogue
from tests.support import BIN, ROOT, free_port

URL = claude_code.hook_url("http://127.0.0.1:6100")
EVENTS = {
    "SessionStart", "PreToolUse", "PostToolUse", "PostToolUseFailure", "SubagentStart", "SubagentStop", "Stop",
    "SessionEnd",
}  # fmt: skip


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def snapshot(project: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(project)): p.read_bytes() for p in sorted((project / ".claude").rglob("*")) if p.is_file()
    }


def settings(project: Path) -> dict[str, Any]:
    return json.loads((project / ".claude" / "settings.json").read_text())


def pas_entries(data: dict[str, Any]) -> list[tuple[str, dict]]:
    return [
        (e, h) for e, groups in data["hooks"].items() for g in groups for h in g["hooks"] if claude_code.is_pas_hook(h)
    ]


def frontmatter(text: str) -> tuple[dict[str, Any], str]:
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


# --- the committed rendering


def test_the_committed_claude_dir_equals_a_fresh_render(catalogue: Catalogue) -> None:
    drift = claude_code.check(catalogue, ROOT, URL)
    assert drift == [], f"run `pas agents install` and commit .claude/: {drift}"
    assert len(list((ROOT / ".claude" / "agents").glob("*.md"))) == 42


def test_check_reports_drift_and_the_cli_fails_on_it(catalogue: Catalogue, tmp_path: Path) -> None:
    shutil.copytree(ROOT / ".claude", tmp_path / ".claude")
    assert claude_code.check(catalogue, tmp_path, URL) == []
    (tmp_path / ".claude" / "agents" / "gateway.md").write_text("edited by hand\n")
    (tmp_path / ".claude" / "agents" / "registry.md").unlink()
    drift = claude_code.check(catalogue, tmp_path, URL)
    assert drift == [".claude/agents/gateway.md: differs", ".claude/agents/registry.md: missing"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [str(BIN / "python"), "-c", "from app.cli import main; main()", "agents", "install", "--dir", str(tmp_path),
            "--url", "http://127.0.0.1:6100"]  # fmt: skip
    failed = subprocess.run([*argv, "--check"], check=False, env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1 and "gateway.md: differs" in failed.stderr
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=60)
    assert subprocess.run([*argv, "--check"], check=False, env=env, capture_output=True, timeout=60).returncode == 0


# --- agent files


def test_agent_files_carry_claude_codes_frontmatter(catalogue: Catalogue, tmp_path: Path) -> None:
    claude_code.install(catalogue, tmp_path, URL)
    names = set()
    for agent in catalogue.agents.values():
        meta, body = frontmatter((tmp_path / ".claude" / "agents" / f"{agent.name}.md").read_text())
        assert set(meta) == {"name", "description", "tools", "model"}
        assert meta["name"] == agent.name and meta["description"] == agent.description
        assert meta["tools"].split(", ") == agent.rights
        assert meta["model"] in {"sonnet", "opus", "haiku", "inherit"}
        assert body.strip() == agent.system_prompt.strip()
        names.add(meta["name"])
    assert len(names) == 42


def test_a_description_that_needs_quoting_stays_one_yaml_string(catalogue: Catalogue) -> None:
    agent = catalogue.get("architect").model_copy(update={"description": 'Use: "plans" # not a comment\n- nor a list'})
    meta, _ = frontmatter(claude_code.render_agent(agent))
    assert meta["description"] == 'Use: "plans" # not a comment\n- nor a list'


def test_stale_rendered_files_go_and_the_users_own_agents_stay(catalogue: Catalogue, tmp_path: Path) -> None:
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "my-reviewer.md").write_text("---\nname: my-reviewer\ndescription: mine\n---\nReview.\n")
    old = catalogue.get("gateway").model_copy(update={"name": "retired-agent"})
    (agents / "retired-agent.md").write_text(claude_code.render_agent(old))
    assert ".claude/agents/retired-agent.md: no longer in the catalogue" in claude_code.check(catalogue, tmp_path, URL)
    claude_code.install(catalogue, tmp_path, URL)
    assert not (agents / "retired-agent.md").exists()
    assert (agents / "my-reviewer.md").read_text().startswith("---\nname: my-reviewer")


# --- settings.json


def test_pas_hooks_follow_claude_codes_schema(catalogue: Catalogue, tmp_path: Path) -> None:
    claude_code.install(catalogue, tmp_path, URL)
    data = settings(tmp_path)
    assert set(data["hooks"]) == EVENTS
    for event, groups in data["hooks"].items():
        assert len(groups) == 1
        (hook,) = groups[0]["hooks"]
        if event == "SessionStart":  # it fires only for command hooks
            assert hook["type"] == "command" and URL in hook["command"] and hook["timeout"] <= 5
            continue
        assert hook == {"type": "http", "url": URL, "headers": {"Authorization": "Bearer $PAS_API_TOKEN"},
                        "allowedEnvVars": ["PAS_API_TOKEN"], "timeout": hook["timeout"]}  # fmt: skip
        assert 0 < hook["timeout"] <= 5
        assert groups[0].get("matcher", "*") == "*"


USER_SETTINGS = {
    "model": "opus",
    "permissions": {"allow": ["Bash(npm test)"]},
    "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
        "Notification": [{"hooks": [{"type": "command", "command": "say hi"}]}],
    },
    "env": {"FOO": "1"},
}


def write_settings(project: Path, data: object) -> None:
    (project / ".claude").mkdir(parents=True, exist_ok=True)
    (project / ".claude" / "settings.json").write_text(json.dumps(data, indent=4))


def test_merge_keeps_the_users_settings_and_hooks(catalogue: Catalogue, tmp_path: Path) -> None:
    write_settings(tmp_path, USER_SETTINGS)
    claude_code.install(catalogue, tmp_path, URL)
    data = settings(tmp_path)
    assert list(data) == ["model", "permissions", "hooks", "env"]
    for key in ("model", "permissions", "env"):
        assert data[key] == USER_SETTINGS[key]
    hooks = data["hooks"]
    assert hooks["PreToolUse"][0] == USER_SETTINGS["hooks"]["PreToolUse"][0]  # theirs first, PAS's after
    assert hooks["Stop"][0] == USER_SETTINGS["hooks"]["Stop"][0]
    assert hooks["Notification"] == USER_SETTINGS["hooks"]["Notification"]
    assert sorted(e for e, _ in pas_entries(data)) == sorted(EVENTS)


def test_install_is_idempotent_byte_for_byte(catalogue: Catalogue, tmp_path: Path) -> None:
    write_settings(tmp_path, USER_SETTINGS)
    first = claude_code.install(catalogue, tmp_path, URL)
    assert len(first) == 43
    before = snapshot(tmp_path)
    assert claude_code.install(catalogue, tmp_path, URL) == []
    assert snapshot(tmp_path) == before
    assert claude_code.check(catalogue, tmp_path, URL) == []


def test_a_new_url_replaces_pas_hooks_instead_of_adding_them(catalogue: Catalogue, tmp_path: Path) -> None:
    write_settings(tmp_path, USER_SETTINGS)
    claude_code.install(catalogue, tmp_path, URL)
    other = claude_code.hook_url("http://127.0.0.1:26100")
    claude_code.install(catalogue, tmp_path, other)
    entries = pas_entries(settings(tmp_path))
    assert len(entries) == len(EVENTS)
    assert all(h.get("url", other) == other and URL not in h.get("command", "") for _, h in entries)
    assert settings(tmp_path)["hooks"]["PreToolUse"][0] == USER_SETTINGS["hooks"]["PreToolUse"][0]


def test_a_pas_hook_inside_a_users_group_is_taken_out_and_theirs_kept(catalogue: Catalogue, tmp_path: Path) -> None:
    mixed = {"hooks": {"PostToolUse": [{"matcher": "Edit", "hooks": [
        {"type": "command", "command": "ruff format"}, {"type": "http", "url": URL}]}]}}  # fmt: skip
    write_settings(tmp_path, mixed)
    claude_code.install(catalogue, tmp_path, URL)
    groups = settings(tmp_path)["hooks"]["PostToolUse"]
    assert groups[0] == {"matcher": "Edit", "hooks": [{"type": "command", "command": "ruff format"}]}
    assert len(groups) == 2 and claude_code.is_pas_hook(groups[1]["hooks"][0])


@pytest.mark.parametrize(
    ("content", "field"),
    [("{not json", "invalid JSON"), ("[1, 2]", "JSON object"), ('{"hooks": []}', "hooks"),
     ('{"hooks": {"Stop": {"x": 1}}}', "hooks.Stop"), ('{"hooks": {"Stop": [{"hooks": "x"}]}}', "hooks.Stop.0")],
)  # fmt: skip
def test_a_broken_settings_file_is_named_and_nothing_is_written(
    catalogue: Catalogue, tmp_path: Path, content: str, field: str
) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(content)
    with pytest.raises(CatalogueError, match=r"settings\.json") as info:
        claude_code.install(catalogue, tmp_path, URL)
    assert field in str(info.value)
    assert (tmp_path / ".claude" / "settings.json").read_text() == content
    assert not (tmp_path / ".claude" / "agents").exists()


def test_base_url_follows_pas_settings() -> None:
    from config.settings import Settings

    assert claude_code.base_url(Settings(pas_port=6100, pas_port_offset=0)) == "http://127.0.0.1:6100"
    assert claude_code.base_url(Settings(pas_host="0.0.0.0", pas_port=7000, pas_port_offset=20)) == (
        "http://127.0.0.1:7020"
    )
    assert claude_code.base_url(Settings(pas_host="::1")) == "http://[::1]:6100"


# --- the SessionStart command hook, run as Claude Code runs it (bash, hook JSON on stdin)


class Sink(BaseHTTPRequestHandler):
    received: list[tuple[str, str | None, bytes]] = []
    stall_s = 0.0

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Sink.received.append((self.path, self.headers.get("Authorization"), body))
        time.sleep(Sink.stall_s)
        self.send_response(200)
        self.send_header("Content-Length", "11")
        self.end_headers()
        self.wfile.write(b'{"ok":true}')


def run_hook(command: str, token: str | None) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if k != "PAS_API_TOKEN"}
    if token:
        env["PAS_API_TOKEN"] = token
    payload = json.dumps({"session_id": "s1", "hook_event_name": "SessionStart", "source": "startup", "cwd": "/x"})
    start = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", command], check=False, input=payload, env=env, capture_output=True, text=True, timeout=30
    )
    return done, time.monotonic() - start


@pytest.fixture
def sink() -> Any:
    Sink.received, Sink.stall_s = [], 0.0
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_session_start_posts_stdin_with_the_token_and_prints_nothing(sink: Any) -> None:
    url = claude_code.hook_url(f"http://127.0.0.1:{sink.server_address[1]}")
    done, _ = run_hook(claude_code.session_start_command(url), "tok-123")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")  # stdout would reach the model
    ((path, auth, body),) = Sink.received
    assert path == claude_code.HOOK_PATH and auth == "Bearer tok-123"
    assert json.loads(body)["hook_event_name"] == "SessionStart"


@pytest.mark.parametrize("state", ["down", "stalled"])
def test_session_start_exits_0_promptly_when_pas_is_down_or_stalled(sink: Any, state: str) -> None:
    port = free_port() if state == "down" else sink.server_address[1]
    Sink.stall_s = 20.0
    done, seconds = run_hook(claude_code.session_start_command(claude_code.hook_url(f"http://127.0.0.1:{port}")), None)
    assert (done.returncode, done.stdout) == (0, "")
    assert seconds < claude_code.COMMAND_TIMEOUT_S, seconds  # curl gives up before Claude Code's own timeout
