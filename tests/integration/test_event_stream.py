"""The event stream: broadcast, replay by seq after a disconnect (no gap, no duplicate), health."""

from __future__ import annotations

import requests
import socketio
from flask import Flask

from app.factory import create_app, create_tables
from tests.integration.conftest import Live
from tests.support import wait_until

ES = "http://localhost:6102"


def test_event_stream_contract_on_its_port(live: Live) -> None:
    es = lambda p: live.url("event-stream", p)  # noqa: E731
    h = requests.get(es("/health"), timeout=5)
    assert h.status_code == 200 and h.json()["status"] == "ok" and h.json()["service"] == "event_stream"
    assert h.json()["port"] == 6102
    r = requests.post(es("/broadcast"), json={"event_type": "test_event", "data": {"x": 1}}, timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "broadcasted" and r.json()["seq"] >= 1
    assert requests.get(es("/health"), timeout=5).json()["buffered_events"] >= 1
    recent = requests.get(es("/events/recent?limit=5"), timeout=5).json()["events"]
    mine = next(e for e in recent if e["seq"] == r.json()["seq"])
    assert mine["event_type"] == "test_event" and mine["data"]["x"] == 1 and mine["data"]["timestamp"]
    bad = requests.post(es("/broadcast"), json={"event_type": "no spaces"}, timeout=5)
    assert bad.status_code == 422 and bad.json()["field"] == "event_type"


def test_a_client_that_was_away_recovers_every_event_by_seq(live: Live) -> None:
    es = lambda p: live.url("event-stream", p)  # noqa: E731
    seen: list[int] = []
    client = socketio.Client(reconnection=False)
    client.on("event", lambda env: seen.append(env["seq"]))
    client.connect(live.url(None), transports=["websocket"], wait_timeout=10)
    first = requests.post(es("/broadcast"), json={"event_type": "s1", "data": {}}, timeout=5).json()["seq"]
    wait_until(lambda: first in seen, 5, 0.02, "the first event live")
    client.disconnect()
    missed = [requests.post(es("/broadcast"), json={"event_type": "s1", "data": {"i": i}}, timeout=5).json()["seq"]
              for i in range(50)]  # fmt: skip
    client = socketio.Client(reconnection=False)
    live_after: list[int] = []
    client.on("event", lambda env: live_after.append(env["seq"]))
    client.connect(live.url(None), transports=["websocket"], wait_timeout=10)
    try:
        caught_up = requests.get(es("/events"), params={"after": max(seen)}, timeout=5).json()
        replayed = [e["seq"] for e in caught_up["events"]]
        assert set(missed) <= set(replayed) and caught_up["resnapshot"] is False
        assert replayed == sorted(set(replayed))  # in order, no duplicates
        merged = sorted(set(seen + replayed + live_after))
        assert merged == list(range(merged[0], merged[-1] + 1))  # no gap
    finally:
        client.disconnect()


def test_a_client_older_than_the_window_is_told_to_resnapshot(make_settings) -> None:
    app: Flask = create_app(make_settings(pas_events_maxlen=100), serve_socketio=False)
    create_tables(app)
    c = app.test_client()
    for i in range(1000):
        c.post(f"{ES}/broadcast", json={"event_type": "flood", "data": {"i": i}})
    body = c.get(f"{ES}/events?after=1&limit=10").json
    assert body["resnapshot"] is True and body["last_seq"] == 1000
    tail = c.get(f"{ES}/events?after=999").json
    assert [e["seq"] for e in tail["events"]] == [1000] and tail["resnapshot"] is False
    assert c.get(f"{ES}/health").json["buffered_events"] < 1000


def test_every_event_reaches_the_daily_archive_once_and_old_days_are_pruned(live: Live) -> None:
    import datetime as dt
    import json as _json

    archive = live.app.extensions["pas"].event_archive
    old = archive.path("20000101")
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text('{"seq": 1}\n')
    r = requests.post(live.url("event-stream", "/broadcast"), json={"event_type": "archive_me", "data": {"n": 1}},
                      timeout=5)  # fmt: skip
    seq = r.json()["seq"]
    today = archive.path(dt.datetime.now(dt.UTC).strftime("%Y%m%d"))

    def archived() -> list[dict]:
        if not today.exists():
            return []
        return [e for e in map(_json.loads, today.read_text().splitlines()) if e["seq"] == seq]

    rows = wait_until(archived, 10, 0.1, "the event in the archive (beat's pas.events.archive)")
    assert rows[0]["event_type"] == "archive_me" and rows[0]["data"]["n"] == 1
    # shipping again (this process, the worker's cursor) never writes it twice; the old day goes
    wait_until(lambda: (archive.ship(), not old.exists())[1], 10, 0.1, "the 2000-01-01 file pruned")
    assert len(archived()) == 1
    seqs = [e["seq"] for e in map(_json.loads, today.read_text().splitlines())]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


def test_the_archive_starts_again_after_the_stream_seq_resets(make_settings, tmp_path) -> None:
    """A flushed Redis restarts seq at 1: the archive marks the reset and keeps the new events."""
    import json as _json

    app: Flask = create_app(make_settings(pas_artifacts_dir=tmp_path), serve_socketio=False)  # its own archive
    create_tables(app)
    pas = app.extensions["pas"]
    pas.events.mark_archived(10**9)  # as if the cursor survived while the stream started over
    c = app.test_client()
    seq = c.post(f"{ES}/broadcast", json={"event_type": "after_reset", "data": {}}).json["seq"]
    assert pas.event_archive.ship() >= 1
    lines = [_json.loads(x) for p in pas.event_archive.directory.glob("events_*.jsonl")
             for x in p.read_text().splitlines()]  # fmt: skip
    mine = [x for x in lines if x.get("seq") == seq and x.get("event_type") == "after_reset"]
    assert len(mine) == 1 and any(x.get("archive_reset") for x in lines)
    assert pas.event_archive.ship() == 0  # and only once
    app.extensions["redis"].close()
