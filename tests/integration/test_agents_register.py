"""`pas agents register`: the 42 catalogue agents as `type:"agent"` records (API-CONTRACT §11), upserted, so a
re-run restores a partial set; straight into the store with REDIS_URL set, through PAS's HTTP API without it."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from app.domain.agents.catalogue import load_catalogue
from app.domain.agents.registration import register_catalogue
from app.factory import create_app, create_tables
from app.wiring import services
from config.settings import Settings
from tests.integration.conftest import settings_env
from tests.support import BIN, free_port

pytestmark = pytest.mark.timeout(120)


@dataclass
class Pas:
    app: Flask
    settings: Settings
    base: str

    def agents(self) -> list[dict]:
        r = requests.get(f"{self.base}/api/registry/services", timeout=10)
        assert r.status_code == 200, r.text
        return [s for s in r.json()["items"] if s["type"] == "agent"]

    def cli(self, *args: str, store: bool = True, token: str | None = None) -> subprocess.CompletedProcess[str]:
        env = settings_env(self.settings)  # PYTHONPATH = this checkout
        if not store:
            env.pop("REDIS_URL")
        env.pop("PAS_API_TOKEN", None)
        if token:
            env["PAS_API_TOKEN"] = token
        argv = [str(BIN / "python"), "-c", "from app.cli import main; main()", "agents", "register", *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture
def pas(make_settings: Callable[..., Settings], request: pytest.FixtureRequest) -> Iterator[Pas]:
    """A PAS of its own (own key prefix, own main port): no other test's agents in its registry."""
    port = free_port()
    token = {"pas_api_token": request.param} if hasattr(request, "param") else {}
    settings = make_settings(pas_port=port, pas_legacy_ports=False, **token)
    app = create_app(settings, serve_socketio=False)
    create_tables(app)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Pas(app, settings, f"http://127.0.0.1:{port}")
    server.shutdown()
    server.server_close()
    app.extensions["redis"].close()


def test_register_writes_42_agents_with_the_contract_labels(pas: Pas) -> None:
    catalogue = load_catalogue()
    with pas.app.app_context():
        done = register_catalogue(catalogue, services().registry.register, pas.base)
    assert [r.service_id for r in done] == [f"agent-{n}" for n in catalogue.agents]
    assert all(r.created for r in done)
    agents = {a["service_id"]: a for a in pas.agents()}
    assert len(agents) == 42
    architect = agents["agent-architect"]
    assert (architect["name"], architect["role"], architect["status"]) == ("architect", "production", "ok")
    assert "planning" in architect["caps"]
    assert architect["url"] == f"{pas.base}/api/agent-router/invoke"
    labels = architect["labels"]
    assert {k: labels[k] for k in ("agent_role", "tier", "parent", "token_target", "token_hard_max")} == {
        "agent_role": "coord", "tier": 1, "parent": None, "token_target": 0.5, "token_hard_max": 0.75,
    }  # fmt: skip
    assert labels["children"] == catalogue.get("architect").children
    gateway = agents["agent-gateway"]["labels"]
    assert (gateway["agent_role"], gateway["tier"], gateway["parent"]) == ("system", 3, "director-models")
    roles = [a["labels"]["agent_role"] for a in agents.values()]
    assert (roles.count("coord"), roles.count("system"), roles.count("exec")) == (7, 16, 19)
    # The user's discover: by name, and by type + capability.
    by_name = requests.get(f"{pas.base}/api/registry/discover", params={"name": "architect"}, timeout=10).json()
    assert by_name["items"][0]["service_id"] == "agent-architect"
    planning = requests.get(f"{pas.base}/api/registry/discover", params={"type": "agent", "cap": "planning"},
                            timeout=10).json()  # fmt: skip
    assert [i["service_id"] for i in planning["items"]] == ["agent-architect"]


def test_a_rerun_restores_a_partial_set_and_never_duplicates(pas: Pas) -> None:
    first = pas.cli()
    assert first.returncode == 0, first.stderr
    assert "42 agents registered (42 new, 0 updated)" in first.stdout
    gone = ["agent-architect", "agent-gateway", "agent-qtower-trainer", "agent-manager", "agent-registry"]
    for sid in gone:
        r = requests.post(f"{pas.base}/api/registry/deregister", json={"service_id": sid}, timeout=10)
        assert r.status_code == 200, r.text
    assert len(pas.agents()) == 37
    again = pas.cli()
    assert again.returncode == 0, again.stderr
    assert "42 agents registered (5 new, 37 updated)" in again.stdout
    agents = pas.agents()
    assert len(agents) == 42
    assert len({a["service_id"] for a in agents}) == 42
    assert sorted(a["name"] for a in agents) == sorted(load_catalogue().agents)


def test_without_redis_url_it_registers_through_the_running_pas(pas: Pas) -> None:
    done = pas.cli("--url", pas.base, store=False)
    assert done.returncode == 0, done.stderr
    assert "42 agents registered (42 new, 0 updated)" in done.stdout
    assert len(pas.agents()) == 42
    assert pas.cli("--url", pas.base, store=False).returncode == 0
    assert len(pas.agents()) == 42


def test_pas_down_is_a_clear_error(pas: Pas) -> None:
    done = pas.cli("--url", f"http://127.0.0.1:{free_port()}", store=False)
    assert done.returncode == 1
    assert "PAS is not reachable" in done.stderr and "pas up" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("pas", ["s3cret-token"], indirect=True)
def test_through_pas_with_a_token_it_sends_pas_api_token(pas: Pas) -> None:
    refused = pas.cli("--url", pas.base, store=False)
    assert refused.returncode == 1 and "401" in refused.stderr and "PAS_API_TOKEN" in refused.stderr
    assert "s3cret" not in refused.stderr
    done = pas.cli("--url", pas.base, store=False, token="s3cret-token")
    assert done.returncode == 0, done.stderr
    assert len(pas.agents()) == 42
