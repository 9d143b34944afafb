"""Canary secrets: PAS_API_TOKEN and a provider's API key reach only where they must (the provider key: the
upstream's Authorization header) and appear in no log line, receipt (JSONL or SQL), event, Redis value, answer or
HMI page — whatever the upstream echoes back, and when an exception quotes them (RELIABILITY X1)."""

from __future__ import annotations

import json
import logging
import signal
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import requests
import socketio
from sqlalchemy import text

from app.extensions import db
from app.factory import create_app, create_tables
from contracts.jobs import JobCard
from tests.celery_stack import celery_argv, wait_ready
from tests.integration.conftest import settings_env
from tests.support import PYTHON, Proc, free_port, port_offset_with_free_ports, redis_values, wait_http, wait_until
from tests.upstream import Step, Upstream


def capture(caplog: pytest.LogCaptureFixture) -> None:
    """caplog sees every record: the first app of a run resets the root logger's handlers, caplog's among them."""
    caplog.set_level(logging.DEBUG)
    if caplog.handler not in logging.getLogger().handlers:
        logging.getLogger().addHandler(caplog.handler)  # pytest removes it after the test


def test_canary_secrets_never_leak(
    make_settings,
    upstreams: list[Upstream],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    api_token = f"pas-canary-{uuid.uuid4().hex}"
    provider_key = f"sk-canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("PAS_PROVIDER_KEY_CANARY", provider_key)  # how an operator hands PAS a vendor key
    up = upstreams[2]
    up.reset()
    settings = make_settings(pas_api_token=api_token, pas_log_level="DEBUG",
                             pas_upstream_allowlist=f"127.0.0.1:{up.port}")  # fmt: skip
    app = create_app(settings, serve_socketio=False)
    create_tables(app)
    c = app.test_client()
    auth = {"Authorization": f"Bearer {api_token}"}
    capture(caplog)
    name = f"canary-{uuid.uuid4().hex[:6]}"
    reg = {"name": name, "model": "canary-model", "context_window": 4000, "cost_per_input_token": 1e-6,
           "cost_per_output_token": 1e-6, "endpoint": up.base_url,
           "api_key_env": "PAS_PROVIDER_KEY_CANARY"}  # fmt: skip
    assert c.post("/api/provider-router/register", json=reg, headers=auth).status_code in (200, 201)
    # a registration may only name key-like variables: never PAS's own token or an arbitrary variable
    bad = c.post("/api/provider-router/register", json={**reg, "api_key_env": "PAS_API_TOKEN"}, headers=auth)
    assert bad.status_code == 422 and "api_key_env" in bad.get_data(as_text=True)
    chat = {"model": name, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    ok = c.post("/v1/chat/completions", json=chat, headers={**auth, "X-PAS-Run-Id": "canary-run"})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    msgs = [{"role": "user", "content": "hi"}]
    route = {"request_id": "canary-1", "agent": "canary-agent", "run_id": "canary-run",
             "requirements": {"provider": name}, "payload": {"messages": msgs}}  # fmt: skip
    assert c.post("/api/gateway/route", json=route, headers=auth).status_code == 200
    up.reset(Step(status=401), Step(status=401))  # the upstream rejects the key: the error must not echo it
    failed = c.post("/api/gateway/route", json={**route, "request_id": "canary-2"}, headers=auth)
    assert failed.status_code >= 400
    c.post("/api/gateway/route", json=route, headers={"Authorization": f"Bearer {api_token}x"})  # a wrong token
    c.post(f"/api/gateway/route?token={api_token}", json=route)  # in the query string: refused, never logged
    assert up.headers and all(h.get("authorization") == f"Bearer {provider_key}" for h in up.headers)
    pas = app.extensions["pas"]
    pas.gateway.ship()
    # every place a secret could land
    blobs: dict[str, str] = {"log records": caplog.text, "log fields": json.dumps([vars(r) for r in caplog.records],
                                                                                     default=str)}  # fmt: skip
    out, err = capfd.readouterr()
    blobs["stdout/stderr"] = out + err
    blobs["events"] = "\n".join(pas.events.recent(5000))
    costs_dir = Path(settings.costs_dir)
    blobs["receipts jsonl"] = "\n".join(p.read_text() for p in costs_dir.glob("*.jsonl"))
    blobs["answers"] = ok.get_data(as_text=True) + failed.get_data(as_text=True)
    for path in ("/api/costs", "/api/costs/receipts/canary-run", "/api/swarm", "/api/alerts", "/api/banner",
                 "/api/resources", "/api/sequencer", "/api/tree", "/api/provider-router/providers",
                 f"/api/provider-router/providers/{name}", "/api/provider-router/stats", "/api/gateway/metrics",
                 "/api/gateway/receipts/canary-run", "/v1/models", "/", "/costs", "/alerts"):  # fmt: skip
        r = c.get(path)
        assert r.status_code == 200, path
        blobs[path] = r.get_data(as_text=True)
    assert "canary-run" in blobs["/api/gateway/receipts/canary-run"]  # the receipts are there (SQL or JSONL)
    assert "PAS_PROVIDER_KEY_CANARY" in blobs[f"/api/provider-router/providers/{name}"]  # the name, not the value
    assert "provider_registered" in blobs["log records"] + blobs["stdout/stderr"]  # the logs were captured
    leaks = [where for where, text in blobs.items() if api_token in text or provider_key in text]
    assert leaks == []


def _forms(secret: str) -> list[str]:
    """The secret as an upstream might echo it: raw, URL-encoded, JSON-escaped."""
    return sorted({secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1].replace("/", "\\/")})


def _leaks(text: str, secret: str, window: int = 16) -> list[str]:
    """Every 16-character run of any form of the secret found in text (a long prefix leaks as much as the key)."""
    return [f[i : i + window] for f in _forms(secret) for i in range(len(f) - window + 1) if f[i : i + window] in text]


def test_an_upstream_echoing_the_key_leaks_it_nowhere(
    make_settings,
    tmp_path: Path,
    upstreams: list[Upstream],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    h = uuid.uuid4().hex
    api_token = f"pas-canary-{h[:24]}"
    provider_key = f"sk-canary/{h[:8]}+{h[8:16]}/{h[16:24]}={h[24:]}"  # a key with characters that get encoded
    monkeypatch.setenv("PAS_PROVIDER_KEY_ECHO", provider_key)
    up = upstreams[2]
    run = f"echo-run-{h[:6]}"
    # its own artifacts: the event archive's files are per day, shared by every app of the run
    settings = make_settings(pas_api_token=api_token, pas_log_level="DEBUG", pas_gateway_trip_after=100,
                             pas_gateway_backoff_s=0.01, pas_upstream_allowlist=f"127.0.0.1:{up.port}",
                             pas_artifacts_dir=tmp_path)  # fmt: skip
    app = create_app(settings, serve_socketio=False)
    create_tables(app)

    def broken_sdk() -> str:  # a bug that lets a library's exception out, quoting the URL it called
        raise ConnectionError(f"POST https://vendor.example/v1/chat?key={quote(provider_key, safe='')}: reset "
                              f"(sent {provider_key!r}, token {api_token})")  # fmt: skip

    app.add_url_rule("/api/test/broken-sdk", "broken_sdk", broken_sdk)
    c = app.test_client()
    auth = {"Authorization": f"Bearer {api_token}", "X-PAS-Run-Id": run}
    capture(caplog)
    name = f"echo-{h[:6]}"
    reg = {"name": name, "model": "echo-model", "context_window": 4000, "cost_per_input_token": 1e-6,
           "cost_per_output_token": 1e-6, "endpoint": up.base_url, "api_key_env": "PAS_PROVIDER_KEY_ECHO"}  # fmt: skip
    assert c.post("/api/provider-router/register", json=reg, headers=auth).status_code in (200, 201)
    chat = {"model": name, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    route = {"request_id": "echo-1", "agent": "echo-agent", "run_id": run, "requirements": {"provider": name},
             "payload": {"messages": chat["messages"]}}  # fmt: skip
    answers: dict[str, str] = {}

    def call(label: str, step: Step, path: str, body: dict) -> None:
        up.reset(default=step)
        r = c.post(path, json=body, headers=auth)
        answers[label] = f"{r.status_code} {r.headers} {r.get_data(as_text=True)}"

    # rejected key; a "client error" whose body is passed through; a server error (retried); a 200 echoing it
    for status in (401, 400, 500, 200):
        step = Step(status=status, echo_auth=True)
        call(f"/v1 {status}", step, "/v1/chat/completions", chat)
        call(f"/v1 stream {status}", step, "/v1/chat/completions", {**chat, "stream": True})
        call(f"/route {status}", step, "/api/gateway/route", {**route, "request_id": f"echo-{status}"})
    assert up.headers and all(h.get("authorization") == f"Bearer {provider_key}" for h in up.headers)
    broken = c.get("/api/test/broken-sdk")
    answers["unhandled exception"] = f"{broken.status_code} {broken.headers} {broken.get_data(as_text=True)}"
    assert broken.status_code == 500
    assert answers["/v1 401"].startswith("502") and "Incorrect API key provided" in answers["/v1 401"]
    assert answers["/v1 500"].startswith("502") and "Incorrect API key provided" in answers["/v1 500"]
    assert "you sent Bearer" in answers["/v1 200"] and "Incorrect API key provided" in answers["/v1 stream 200"]
    pas = app.extensions["pas"]
    pas.gateway.ship()
    pas.event_archive.ship()
    blobs: dict[str, str] = {**answers, "log records": caplog.text,
                             "log fields": json.dumps([vars(r) for r in caplog.records], default=str)}  # fmt: skip
    out, err = capfd.readouterr()
    blobs["stdout/stderr"] = out + err
    blobs["receipts jsonl"] = Path(settings.costs_dir, f"{run}.jsonl").read_text()
    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM receipts WHERE run_id = :r"), {"r": run}).all()
    assert len(rows) == 12
    blobs["sql rows"] = "\n".join(str(tuple(r)) for r in rows)
    archive = Path(settings.artifacts_dir, "hmi", "events")
    blobs["event archive"] = "\n".join(p.read_text() for p in archive.glob("*.jsonl"))
    blobs["redis"] = redis_values(app.extensions["redis"], settings.pas_key_prefix)  # every key of the run
    for path in ("/api/costs", f"/api/costs/receipts/{run}", f"/api/gateway/receipts/{run}",
                 "/api/event-stream/events?after=0&limit=10000", "/api/event-stream/events/recent", "/api/alerts",
                 f"/api/provider-router/providers/{name}", "/api/gateway/metrics", "/", "/costs",
                 "/alerts"):  # fmt: skip
        r = c.get(path)
        assert r.status_code == 200, path
        blobs[path] = r.get_data(as_text=True)
    assert "http_401: Incorrect API key provided: Bearer" in blobs[f"/api/gateway/receipts/{run}"]  # what it said
    assert "unhandled_error" in blobs["stdout/stderr"] and "vendor.example/v1/chat?key=[REDACTED]" in caplog.text
    assert run in blobs["redis"]  # the scan saw the run's keys
    assert run in blobs["event archive"] and run in blobs["/api/event-stream/events?after=0&limit=10000"]
    leaks = {where: _leaks(text, provider_key) + _leaks(text, api_token) for where, text in blobs.items()}
    assert sorted(where for where, found in leaks.items() if found) == []


def test_a_failing_task_flower_and_a_socketio_session_leak_no_canary(
    make_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real processes on canary secrets: gunicorn (gevent) serving a Socket.IO session that presents the token, a
    Celery worker whose task fails quoting a provider key in a `?key=` URL — as a job and as a bare task — and Flower
    watching them. Not the worker's log, Flower's task view (args, exception, traceback), the job card, its event
    (live and stored), the broker nor any log line carries a canary."""
    h = uuid.uuid4().hex + uuid.uuid4().hex
    api_token, provider_key, flower_password = f"pas-canary-{h[:20]}", f"sk-canary-{h[20:44]}", f"fl-{h[44:]}"
    monkeypatch.setenv("PAS_PROVIDER_KEY_TASK", provider_key)  # the in-process app's secrets too
    settings = make_settings(pas_api_token=api_token, pas_port_offset=port_offset_with_free_ports(),
                             pas_legacy_ports=False, pas_log_level="INFO", pas_artifacts_dir=tmp_path,
                             pas_flower_port=free_port(), pas_flower_basic_auth=f"ops:{flower_password}")  # fmt: skip
    app = create_app(settings, serve_socketio=False)
    create_tables(app)
    env = {**settings_env(settings), "PAS_PROVIDER_KEY_TASK": provider_key}
    logs = tmp_path / "logs"
    procs = [
        Proc("web", [PYTHON, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"],
             {**env, "PAS_ASYNC_MODE": "gevent"}, logs),
        Proc("worker", celery_argv(settings, "x1", settings.worker_queues, 1), env, logs),
        Proc("flower", [PYTHON, "-m", "app.cli", "flower"], env, logs),
    ]  # fmt: skip
    web, worker, _ = procs
    base, fl = f"http://127.0.0.1:{settings.bind_ports()[0]}", f"http://127.0.0.1:{settings.pas_flower_port}"
    fl_auth = ("ops", flower_password)
    celery = app.extensions["celery"]
    heard: list[dict] = []
    client = socketio.Client(reconnection=False)
    client.on("event", heard.append)
    try:
        wait_ready(worker)
        wait_http(f"{base}/health", 40)

        def flower_tasks() -> dict:
            r = requests.get(f"{fl}/api/tasks", auth=fl_auth, timeout=5)
            return r.json() if r.ok else {}

        def flower_sees_a_probe() -> bool:  # Flower hears the worker's events (not only its HTTP is up)
            celery.send_task("pas.jobs.echo", args=["probe"], queue=settings.work_queue)
            return any(t.get("name") == "pas.jobs.echo" for t in flower_tasks().values())

        wait_until(lambda: _answers(fl, fl_auth) and flower_sees_a_probe(), 40, 0.5, "Flower hearing task events")
        refused = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):  # a wrong token, in auth and in the query string
            refused.connect(f"{base}?token={api_token}x", auth={"token": f"{api_token}x"}, wait_timeout=5)
        refused.disconnect()
        client.connect(f"{base}?token={api_token}", auth={"token": api_token}, wait_timeout=10)  # polling, upgraded
        job_id = app.extensions["pas"].jobs.create(JobCard(agent="x1", task="tests.jobs.leak"), trusted=True).job_id
        bare = celery.send_task("tests.jobs.leak", queue=settings.work_queue).id  # a task failing in Celery itself

        def settled() -> bool:
            tasks = flower_tasks()
            return tasks.get(bare, {}).get("state") == "FAILURE" and any(
                t.get("name") == "pas.jobs.run" and t.get("state") == "SUCCESS" for t in tasks.values()
            ) and any(e.get("event_type") == "job_failed" for e in heard)  # fmt: skip

        wait_until(settled, 30, 0.2, "the job failed, the bare task failed in Flower, the event heard live")
        job = requests.get(f"{base}/jobs/{job_id}", timeout=5).json()
        blobs = {
            "job": json.dumps(job),
            "socket.io events": json.dumps(heard),
            "flower tasks": json.dumps(flower_tasks()),
        }
        for path in ("/tasks", f"/task/{bare}", f"/api/task/info/{bare}", "/api/workers", "/workers"):
            blobs[f"flower {path}"] = requests.get(fl + path, auth=fl_auth, timeout=5).text
        for path in ("/api/event-stream/events?after=0&limit=10000", "/", "/jobs", f"/jobs/{job_id}"):
            blobs[f"web {path}"] = requests.get(base + path, timeout=5).text
        blobs["redis"] = redis_values(app.extensions["redis"], settings.pas_key_prefix)
        with app.app_context():
            blobs["sql job"] = str(
                db.session.execute(text("SELECT * FROM jobs WHERE job_id = :j"), {"j": job_id}).all()
            )
    finally:
        client.disconnect()
        for proc in procs:  # all at once; gunicorn's quick shutdown
            if proc.alive():
                proc.send(signal.SIGINT if proc is web else signal.SIGTERM)
        for proc in procs:
            proc.stop()
    blobs |= {f"{p.name} log": p.output() for p in procs}
    assert job["status"] == "failed" and "vendor.example/v1/models?key=[REDACTED]" in job["error"], job
    assert "[REDACTED]" in json.loads(blobs[f"flower /api/task/info/{bare}"])["exception"]
    runs = [t for t in json.loads(blobs["flower tasks"]).values() if t["name"] == "pas.jobs.run"]
    assert [t["args"] for t in runs] == [repr([job_id])]  # a job's task carries its id, never its card
    assert "tests.jobs.leak" in blobs["worker log"] and "job_failed" in blobs["socket.io events"]
    leaks = {where: [f for s in (api_token, provider_key, flower_password) for f in _leaks(text, s)]
             for where, text in blobs.items()}  # fmt: skip
    assert sorted(where for where, found in leaks.items() if found) == []


def _answers(url: str, auth: tuple[str, str]) -> bool:
    try:
        return requests.get(url, auth=auth, timeout=2).ok
    except requests.RequestException:
        return False
