"""The real Claude Code CLI, run offline for the tests: `claude -p PROMPT --output-format json` in a scratch project
with a temp HOME, against the Anthropic stand-in (tests/anthropic_standin.py) named by ANTHROPIC_BASE_URL.

The CLI is installed by `.ci/ensure-claude-code` (npm, into a cache outside the repo); `claude_binary()` runs that
script when the binary is missing. A machine that cannot install it (offline npm) gets a skip with the reason; CI
(CI=true) gets a failure, since CI must run these tests.

Permissions in headless mode: as root Claude Code refuses `--dangerously-skip-permissions` (and so
`--permission-mode bypassPermissions`); `--allowedTools` (or `permissions.allow` in settings.json) names the tools
that run without asking, for the main agent and its sub-agents alike. A tool that is not allowed is denied, not
waited on, in `-p` mode (it appears in the result's `permission_denials`).

Also here: `HookRecorder`, a tiny HTTP server that records the bodies Claude Code's `http` hooks POST to it (and
those a `command` hook forwards with `hook_forwarder`), and `hooks_settings`, which writes the settings for them."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VERSION = "2.1.197"
ENSURE = ROOT / ".ci" / "ensure-claude-code"


class Unavailable(RuntimeError):
    """Claude Code could not be installed here; the message says why."""


def claude_binary() -> Path:
    """The native `claude` binary of VERSION, installed by .ci/ensure-claude-code when missing (idempotent: a fast
    --version check when present). Raises Unavailable with the script's reason when it cannot be had."""
    env = {**os.environ, "PAS_CLAUDE_CODE_VERSION": VERSION}
    env.pop("CI", None)  # here the caller decides between skip and fail
    proc = subprocess.run(["bash", str(ENSURE)], capture_output=True, text=True, env=env, timeout=900, check=False)
    path = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0 or not path or not Path(path).is_file():
        said = [ln for ln in proc.stderr.splitlines() if ln.startswith("ensure-claude-code:")]
        reasons = [ln for ln in said if "installing" not in ln and "will skip" not in ln]
        raise Unavailable("; ".join(reasons) or f"{ENSURE} printed no binary path")
    return Path(path)


@dataclass
class Run:
    argv: list[str]
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    elapsed_s: float
    result: dict[str, Any] | None  # the parsed --output-format json result, when stdout held one

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


@dataclass
class ClaudeCode:
    binary: Path

    def run(
        self,
        prompt: str,
        project: Path,
        home: Path,
        base_url: str,
        *,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        timeout_s: float = 60.0,
    ) -> Run:
        """`claude -p PROMPT --output-format json` in `project`, HOME=`home`, against `base_url`, with a clean
        environment (nothing of the caller's ANTHROPIC_* or Claude Code settings leaks in)."""
        home.mkdir(parents=True, exist_ok=True)
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": "sk-ant-standin-not-a-key",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            **(env or {}),
        }
        argv = [str(self.binary), "-p", prompt, "--output-format", "json", *(extra_args or [])]
        start = time.monotonic()
        proc = subprocess.Popen(argv, cwd=project, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
        returncode: int | None
        try:
            out, err = proc.communicate(timeout=timeout_s)
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            returncode = None
        elapsed = time.monotonic() - start
        result = None
        for line in reversed(out.strip().splitlines()):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                result = parsed
                break
        return Run(argv, returncode, out, err, elapsed, result)


def write_agent(project: Path, name: str, description: str, body: str, tools: str | None = None) -> Path:
    """A `.claude/agents/<name>.md` sub-agent file (frontmatter name, description, optional tools; body = prompt)."""
    folder = project / ".claude" / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    front = [f"name: {name}", f"description: {description}"] + ([f"tools: {tools}"] if tools else [])
    path = folder / f"{name}.md"
    path.write_text("---\n" + "\n".join(front) + "\n---\n\n" + body.strip() + "\n")
    return path


# --- hooks -------------------------------------------------------------------------------------------------------

HTTP_EVENTS = ("PreToolUse", "PostToolUse", "SubagentStart", "SubagentStop", "Stop", "SessionEnd")
COMMAND_EVENTS = ("SessionStart",)


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


@dataclass
class HookRecorder:
    """Records every POST: its path (a test can name the hook kind in it), headers and JSON body."""

    server: ThreadingHTTPServer
    port: int
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def events(self) -> list[str]:
        with self.lock:
            return [str(h.body.get("hook_event_name")) for h in self.hits]

    def of(self, event: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.body.get("hook_event_name") == event]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_recorder() -> HookRecorder:
    holder: dict[str, HookRecorder] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = {"_unparsed": raw.decode(errors="replace")}
            rec = holder["r"]
            with rec.lock:
                rec.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                    time.monotonic()))  # fmt: skip
            self.send_response(200)  # 2xx with an empty body: success, no decision
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec = HookRecorder(server, server.server_address[1])
    holder["r"] = rec
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return rec


def hook_forwarder(url: str) -> str:
    """A `command` hook that POSTs its stdin (the hook input JSON) to `url` and exits 0 even when nobody listens."""
    code = (
        "import sys,urllib.request\n"
        "try:\n"
        f" urllib.request.urlopen(urllib.request.Request({url!r},sys.stdin.buffer.read(),"
        "{'Content-Type':'application/json'}),timeout=2)\n"
        "except OSError:\n"
        " pass\n"
    )
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def hooks_settings(
    base_url: str,
    http_events: tuple[str, ...] = HTTP_EVENTS,
    command_events: tuple[str, ...] = COMMAND_EVENTS,
    timeout_s: float = 2,
    headers: dict[str, str] | None = None,
    allowed_env_vars: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """settings.json `hooks`: an `http` hook per http_event POSTing to <base_url>/http/<Event>, and a `command` hook
    per command_event forwarding to <base_url>/command/<Event>. The http hook fields are those of the 2.1.197
    schema: type, url, timeout (seconds), headers (values may name $VARS), allowedEnvVars (the only variables
    interpolated; others become ""), plus if, statusMessage, once."""
    hooks: dict[str, list[dict[str, Any]]] = {}
    for event in http_events:
        hook: dict[str, Any] = {"type": "http", "url": f"{base_url}/http/{event}", "timeout": timeout_s}
        if headers:
            hook["headers"] = headers
        if allowed_env_vars is not None:
            hook["allowedEnvVars"] = allowed_env_vars
        hooks.setdefault(event, []).append({"matcher": "*", "hooks": [hook]})
    for event in command_events:
        cmd = {"type": "command", "command": hook_forwarder(f"{base_url}/command/{event}"), "timeout": timeout_s}
        hooks.setdefault(event, []).append({"hooks": [cmd]})
    return {"hooks": hooks, **(extra or {})}


def write_settings(project: Path, settings: dict[str, Any]) -> Path:
    path = project / ".claude" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2))
    return path
