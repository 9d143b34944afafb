"""Schemathesis 4 over the live app's own /openapi.json: every check, fixed seed (deterministic generation), the
coverage, fuzzing and stateful phases open, then fuzzing and stateful with PAS_API_TOKEN set (the token supplied).
0 server errors, 0 schema violations, 0 failures of any check — PAS's own among them: every 422 names the field
path it refuses, and an enum's every allowed value (tests/fuzz_hooks.py): the spec describes what the server does.

schemathesis.toml (at the root) holds the seed and the few per-operation allowances, each with its reason;
bench/fuzz.sh runs the same with more examples. Bounded here so both runs fit in ~90 s on two cores."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from config.settings import Settings
from tests.integration.conftest import serve_live
from tests.support import BIN, ROOT, base_env, port_offset_with_free_ports
from tests.upstream import Upstream

TOKEN = "fuzz-canary-token-3b9c1e"
MAX_EXAMPLES = 5  # per operation and phase; bench/fuzz.sh runs 100


def fuzz_settings(
    make_settings: Callable[..., Settings], upstreams: list[Upstream], token: str | None, own: Path
) -> Settings:
    return make_settings(
        # its own artifacts: its beat archives its events there, not into the session app's archive
        pas_artifacts_dir=own,
        pas_docs_dir=own / "docs" / "runs",
        pas_port_offset=port_offset_with_free_ports(),
        pas_api_token=token,
        pas_upstream_allowlist=",".join(f"127.0.0.1:{u.port}" for u in upstreams),
        pas_gateway_backoff_s=0.01,
        pas_gateway_cooldown_s=2.0,
        # POST /summarize waits this long for the worker, then answers 504 (documented); the fuzz's own jobs
        # (pas.jobs.sleep with whatever args it drew) may hold the worker meanwhile.
        pas_summarize_wait_s=5.0,
    )


def run_schemathesis(url: str, report: Path, token: str | None, max_examples: int) -> subprocess.CompletedProcess[str]:
    # The coverage phase (~7,000 deterministic boundary cases, three quarters of the time) runs open: with the token
    # the same cases pass the same validation behind the guard. Fuzzing and stateful run in both; bench/fuzz.sh
    # runs every phase in both modes.
    # CI's second pass (PAS_TEST_BACKENDS_ONLY: the machine's Redis and PostgreSQL) skips it too: its boundary cases
    # are the first pass's, answered by the same validation before any store.
    again = os.environ.get("PAS_TEST_BACKENDS_ONLY") == "1"
    phases = "coverage,fuzzing,stateful" if token is None and not again else "fuzzing,stateful"
    cmd = [
        str(BIN / "schemathesis"), "--config-file", str(ROOT / "schemathesis.toml"), "--no-color",
        "run", url, "--max-examples", str(max_examples), "--phases", phases,
        "--report", "ndjson", "--report-ndjson-path", str(report),
    ]  # fmt: skip
    if token is not None:
        cmd += ["--header", f"Authorization: Bearer {token}"]
    return subprocess.run(cmd, cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=240, check=False)


@pytest.mark.parametrize("token", [None, TOKEN], ids=["open", "with-token"])
def test_schemathesis_finds_no_failure_open_and_with_a_token(
    make_settings: Callable[..., Settings],
    artifacts: Path,
    upstreams: list[Upstream],
    tmp_path: Path,
    token: str | None,
) -> None:
    settings = fuzz_settings(make_settings, upstreams, token, tmp_path / "artifacts")
    with serve_live(settings, artifacts, worker_concurrency=2) as live:
        url = live.url(path="/openapi.json")
        spec = requests.get(url, timeout=10).json()
        mutating = [op for ops in spec["paths"].values() for m, op in ops.items() if m in ("post", "put", "delete")]
        # The spec says which mode this server runs in.
        assert all(("security" in op) == (token is not None) for op in mutating)
        assert all(("401" in op["responses"]) == (token is not None) for op in mutating)
        assert ("securitySchemes" in spec["components"]) == (token is not None)

        started = time.monotonic()
        result = run_schemathesis(url, tmp_path / "events.ndjson", token, MAX_EXAMPLES)
        took = time.monotonic() - started
    summary = result.stdout[result.stdout.rfind("SUMMARY") :] if "SUMMARY" in result.stdout else result.stdout
    print(f"schemathesis ({'token' if token else 'open'}) took {took:.1f}s\n{summary}")
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    assert " passed" in summary or "No issues found" in summary, summary
    assert token is None or token not in result.stdout  # the token is filtered from every reproduction
    events = [json.loads(line) for line in (tmp_path / "events.ndjson").read_text().splitlines() if line.strip()]
    assert events, "schemathesis wrote no events"
    # V4: tests/fuzz_hooks.py's check (every 422 names its field path, an enum's lists its values) ran too
    assert "refusal_names_the_field" in (tmp_path / "events.ndjson").read_text()
