"""docker-compose.yml (no Docker engine runs here): every command is a `pas` verb that exists, every variable a
setting PAS reads, the store is configured to persist and never evict."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

from tests.support import ROOT

PAS_SERVICES = (
    "web",
    "worker",
    "adapters",
    "beat",
    "flower",
    "model-llama31-8b",
    "model-tinyllama-1b",
    "model-tlc-classifier",
)


def command_tree() -> dict:
    code = (
        "import json, click, app.cli as c\n"
        "def walk(cmd):\n"
        "    return {n: walk(s) for n, s in getattr(cmd, 'commands', {}).items()}\n"
        "print(json.dumps(walk(c.main)))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def test_compose_topology() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"valkey", "postgres", *PAS_SERVICES} <= set(services)
    images = {services[s]["image"] for s in PAS_SERVICES}
    builds = {services[s]["build"] for s in PAS_SERVICES}
    assert len(images) == 1 and builds == {"."}
    valkey = " ".join(services["valkey"]["command"])
    assert "--appendonly yes" in valkey and "--maxmemory-policy noeviction" in valkey
    ports = " ".join(services["web"]["ports"])
    assert "6100:6100" in ports and "6119-6121:6119-6121" in ports


def test_every_command_is_a_pas_verb() -> None:
    tree = command_tree()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in PAS_SERVICES:
        argv = compose["services"][name]["command"]
        assert argv[0] == "pas", name
        node = tree
        for word in argv[1:]:
            if word.startswith("-"):
                break
            assert word in node, (name, word)
            node = node[word]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^CMD \["pas", "web"\]$', dockerfile, re.M)


def test_every_variable_is_a_setting() -> None:
    from config.settings import Settings

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in PAS_SERVICES:
        for var in compose["services"][name]["environment"]:
            assert var.lower() in Settings.model_fields, (name, var)


def test_the_compose_web_binds_every_interface_so_it_requires_the_token() -> None:
    """RELIABILITY A3: a web on 0.0.0.0 without PAS_API_TOKEN refuses to start (config/settings.py), so compose
    requires the token; every spelling of loopback needs none."""
    from config.settings import Settings

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["services"]["web"]["environment"]
    assert env["PAS_API_TOKEN"].startswith("${PAS_API_TOKEN:?")  # compose stops before starting anything
    assert Settings(pas_host=env["PAS_HOST"], pas_api_token=None).open_bind_refusal()
    for host in ("", "192.168.1.5", "::", "pas.example"):
        assert Settings(pas_host=host, pas_api_token=None).open_bind_refusal(), host
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert Settings(pas_host=host, pas_api_token=None).open_bind_refusal() is None, host
    assert Settings(pas_host="0.0.0.0", pas_api_token="t" * 20).open_bind_refusal() is None
