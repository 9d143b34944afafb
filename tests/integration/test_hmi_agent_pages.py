"""Claude Code sessions in the HMI, in real Chromium against the live app: the catalogue tree (registered by `pas
agents register`) lit by the hooks (colour = status, size = context, tokens and cost, sessions and delegation
pulses) and the sequencer's tool-call lanes by session. Everything is driven through the real hook endpoint with
2.1.197-shaped payloads; an agent and a tool named in HTML must render as text."""

from __future__ import annotations

import subprocess
import uuid
from typing import Any

import requests

from tests.integration.conftest import Live, settings_env
from tests.integration.hook_payloads import agent_returned, delegation, payload, send, tool_call
from tests.integration.test_hmi_pages import page, shot  # noqa: F401 (the page fixture)
from tests.support import BIN

EVIL_AGENT = '<img src=x onerror="window.__xss=1;alert(1)">'
EVIL_TOOL = '<img src=y onerror="window.__xss=2;alert(2)">'


def register_catalogue(live: Live) -> None:
    """`pas agents register` (straight into the store: REDIS_URL set), as a user runs it."""
    argv = [str(BIN / "python"), "-c", "from app.cli import main; main()", "agents", "register",
            "--url", live.url(None, "/")]  # fmt: skip
    done = subprocess.run(
        argv, env=settings_env(live.settings), capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "42 agents registered" in done.stdout


def register_evil(live: Live) -> None:
    labels = {"agent_role": "exec", "tier": 3, "parent": "director-data", "children": [], "token_target": 0.3,
              "token_hard_max": 0.5, "display_name": EVIL_AGENT}  # fmt: skip
    body = {"service_id": f"agent-{EVIL_AGENT}", "name": EVIL_AGENT, "type": "agent", "role": "production",
            "url": "internal://evil", "caps": ["c"], "labels": labels, "heartbeat_interval_s": 86400,
            "ctx_limit": 1000}  # fmt: skip
    r = requests.post(live.url("registry", "/register"), json=body, timeout=5)
    assert r.status_code in (200, 201), r.text


def beat(live: Live, service_id: str, status: str) -> None:
    r = requests.put(live.url("registry", "/heartbeat"), json={"service_id": service_id, "status": status}, timeout=5)
    assert r.status_code == 200, r.text


def no_markup(p: Any) -> None:
    """The HTML names made no element and ran nothing (the page fixture also fails on any dialog)."""
    assert p.query_selector_all("img") == []
    assert p.evaluate("window.__xss") is None


def test_tree_shows_the_catalogue_lit_by_claude_code(live: Live, page: Any) -> None:  # noqa: F811
    register_catalogue(live)
    register_evil(live)
    base = live.url(None, "/")
    session = f"sess-tree-{uuid.uuid4().hex[:8]}"
    send(base, payload("SessionStart", session))
    beat(live, "agent-cleaner-normalizer", "queued")
    beat(live, "agent-graph-builder", "error")
    page.set_viewport_size({"width": 1500, "height": 1650})  # the 43 nodes fit the picture
    page.goto(live.url(None, "/tree"))
    page.wait_for_selector("#conn.on", timeout=10_000)
    page.wait_for_selector('g.node[data-id="agent-architect"]', timeout=10_000)
    # the catalogue's hierarchy: architect under PAS Root, directors under it, the evil agent under director-data
    ids = page.eval_on_selector_all("g.node", "ns => ns.map(n => n.dataset.id)")
    assert {"agent-architect", "agent-director-data", "agent-graph-builder", f"agent-{EVIL_AGENT}"} <= set(ids)
    assert page.query_selector('path.link[data-target="agent-director-data"]') is not None
    # statuses by colour: queued grey, error red (heartbeats: no event, read by the snapshot), then a run makes
    # the evil agent running (blue), then done (green)
    page.wait_for_selector('g.node.st-queued[data-id="agent-cleaner-normalizer"]', timeout=5_000)
    page.wait_for_selector('g.node.st-error[data-id="agent-graph-builder"]', timeout=5_000)
    # a delegation to the evil agent, live: its session appears and the edges into the agent pulse
    delegation(base, session, EVIL_AGENT, "run-evil-1", "toolu_tree_1")
    page.wait_for_selector(f'g.session[data-session="{session}"]', timeout=5_000)
    node_sel = f"g.node[data-id={_css_string(f'agent-{EVIL_AGENT}')}]"
    page.wait_for_selector(f"{node_sel}.st-running", timeout=5_000)
    pulses = [x for x in page.evaluate("window.PAS.pulses") if x["session_id"] == session]
    assert pulses and pulses[0]["to_service_id"] == f"agent-{EVIL_AGENT}" and pulses[0]["edge"] is True
    assert pulses[0]["from"] is True  # the session's dashed link to the agent pulsed too
    tool_call(base, session, ("run-evil-1", EVIL_AGENT), EVIL_TOOL, "toolu_tree_2", 30)
    # the Agent call's report: tokens, no cost reported (2.1.197), context 430 of 1000 → a bigger node
    r0 = float(page.get_attribute(f"{node_sel} circle", "r") or 0)
    agent_returned(base, session, EVIL_AGENT, "run-evil-1", "toolu_tree_1")
    page.wait_for_selector(f"{node_sel}.st-done", timeout=5_000)
    page.wait_for_selector(f'{node_sel} text.meta:has-text("460 tok")', timeout=5_000)
    assert page.text_content(f"{node_sel} text.meta") == "ctx 43% · 460 tok · $ \u2013"  # no cost reported
    assert float(page.get_attribute(f"{node_sel} circle", "r") or 0) > r0
    # a second delegation pulses again (one pulse per message)
    delegation(base, session, EVIL_AGENT, "run-evil-2", "toolu_tree_3")
    page.wait_for_selector(f"{node_sel}.st-running", timeout=5_000)
    assert len([x for x in page.evaluate("window.PAS.pulses") if x["session_id"] == session]) == 2
    # inert: the agent's name is the node's text, literally; no element, no script
    assert page.text_content(f"{node_sel} text.label") == EVIL_AGENT
    page.dispatch_event(f"{node_sel} circle", "mousemove")
    assert EVIL_AGENT in (page.text_content("#tip") or "")
    no_markup(page)
    page.dispatch_event("svg#tree", "mouseleave")  # the tip off the picture
    shot(live, page, "tree-claude-code")
    agent_returned(base, session, EVIL_AGENT, "run-evil-2", "toolu_tree_3")


def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_sequencer_lanes_per_agent_grouped_by_session(live: Live, page: Any) -> None:  # noqa: F811
    base = live.url(None, "/")
    s1, s2 = str(uuid.uuid4()), str(uuid.uuid4())  # Claude Code's shape; the lane header shows 8 characters
    # before the page loads: a session whose main agent ran Bash and delegated to the evil agent, which ran a tool
    tool_call(base, s1, None, "Bash", "toolu_seq_1", 1500)
    delegation(base, s1, EVIL_AGENT, "run-seq-1", "toolu_seq_2")
    tool_call(base, s1, ("run-seq-1", EVIL_AGENT), EVIL_TOOL, "toolu_seq_3", 2500)
    page.goto(live.url(None, "/sequencer"))
    page.wait_for_selector("#conn.on", timeout=10_000)
    page.uncheck("#follow")  # hold still on the last minute
    page.select_option("#range", "60")
    page.check("#follow")
    page.wait_for_selector('rect.tool-block[data-tool="toolu_seq_3"]', timeout=10_000)  # from the snapshot
    # live: a second session's call and the first session's next one arrive without a reload
    tool_call(base, s2, None, "Read", "toolu_seq_4", 800)
    tool_call(base, s1, ("run-seq-1", EVIL_AGENT), "Grep", "toolu_seq_5", 600)
    page.wait_for_selector('rect.tool-block[data-tool="toolu_seq_4"]', timeout=5_000)
    page.wait_for_selector('rect.tool-block[data-tool="toolu_seq_5"]', timeout=5_000)
    labels = page.eval_on_selector_all("svg#timeline g.lane-row text", "ns => ns.map(n => n.textContent)")
    h1, h2 = f"session {s1[:8]}…", f"session {s2[:8]}…"
    assert labels.index(h1) < labels.index(h2), labels  # sessions first seen first
    # one lane per agent under its session, the main agent first
    assert labels[labels.index(h1) + 1 : labels.index(h1) + 3] == ["(main agent)", EVIL_AGENT], labels
    assert labels[labels.index(h2) + 1] == "(main agent)" and EVIL_AGENT not in labels[labels.index(h2) + 1 :][:1]
    # the block's name is the tool's, literally; the details panel too
    names = page.eval_on_selector_all("svg#timeline g.tool text.tool-name", "ns => ns.map(n => n.textContent)")
    assert EVIL_TOOL in names and "Bash" in names and "Grep" in names
    page.uncheck("#follow")
    page.click('rect.tool-block[data-tool="toolu_seq_3"]', force=True)
    details = page.text_content("#details") or ""
    assert EVIL_TOOL in details and EVIL_AGENT in details and s1 in details and "2500 ms" in details
    no_markup(page)
    shot(live, page, "sequencer-claude-code")
    # a reload reads the same lanes back from /api/agent-activity
    page.reload()
    page.wait_for_selector("#conn.on", timeout=10_000)
    page.wait_for_selector('rect.tool-block[data-tool="toolu_seq_5"]', timeout=10_000)
    no_markup(page)
    agent_returned(base, s1, EVIL_AGENT, "run-seq-1", "toolu_seq_2")
