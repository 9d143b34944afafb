"""RELIABILITY L2 over the whole integration run: 20 services heartbeat at 0.9 s ± 20 % from the moment the
session's live stack is up, while every other test loads the same app, worker and beat; the check (a test run
last) finds no `down` among them unless their own heartbeats really stopped."""

from __future__ import annotations

import random
import threading
import time

import requests

SERVICES = 20
INTERVAL_S = 1
DOWN_GAP_S = 2.0 * INTERVAL_S  # two intervals of silence: below that, a `down` is a flap


class SteadyBeats:
    def __init__(self, registry_url: str) -> None:
        self.registry_url = registry_url
        self.ids = [f"l2-steady-{i:02d}" for i in range(SERVICES)]
        self.started = time.monotonic()
        self.largest_gap_s = dict.fromkeys(self.ids, 0.0)  # client-side, between answered heartbeats
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        s = requests.Session()
        for sid in self.ids:
            body = {"service_id": sid, "name": sid, "type": "model", "role": "experimental", "url": "http://x:1",
                    "caps": ["infer"], "heartbeat_interval_s": INTERVAL_S}  # fmt: skip
            s.post(f"{self.registry_url}/register", json=body, timeout=5).raise_for_status()
        self.started = time.monotonic()
        self._threads = [threading.Thread(target=self._beat, args=(sid,), daemon=True) for sid in self.ids]
        for t in self._threads:
            t.start()

    def _beat(self, sid: str) -> None:
        sess, rng = requests.Session(), random.Random(sid)
        last = time.monotonic()
        while not self._stop.is_set():
            try:
                ok = sess.put(f"{self.registry_url}/heartbeat", json={"service_id": sid}, timeout=5).ok
            except requests.RequestException:
                ok = False
            now = time.monotonic()
            if ok:
                self.largest_gap_s[sid] = max(self.largest_gap_s[sid], now - last)
                last = now
            self._stop.wait(0.9 * rng.uniform(0.8, 1.2))

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)
