"""The Redis side of a model call between a web process and the Celery worker that runs it: one short-lived
stream of events per call (read as they are written: streamed tokens reach the client as they are produced),
a cancel flag the client side sets when its client goes away, and each host worker's live facts."""

from __future__ import annotations

import json
from typing import Any

import redis

from models.keys import Keys
from models.stored import stored_json

CALL_TTL_MS = 120_000  # a call's stream outlives no client: the reader deletes it, this is the backstop
# The running worker renews its claim on a call at least every 0.5 s; a claim this old means the worker is gone
# (killed, its host lost): tasks run at most once, so the waiting client is told instead of waiting its timeout.
CLAIM_TTL_MS = 5_000


class LlmCallStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    # worker side

    def emit(self, call_id: str, events: list[dict[str, Any]]) -> bool:
        """Appends events and renews the claim; True when the client side has cancelled the call (one round
        trip for all)."""
        key = self._keys.llm_out(call_id)
        pipe = self._r.pipeline(transaction=False)
        for event in events:
            pipe.xadd(key, {"e": json.dumps(event, separators=(",", ":"))})
        pipe.pexpire(key, CALL_TTL_MS)
        pipe.set(self._keys.llm_claim(call_id), "1", px=CLAIM_TTL_MS)
        pipe.exists(self._keys.llm_cancel(call_id))
        return bool(pipe.execute()[-1])

    def renew(self, call_id: str) -> bool:
        """Takes or renews the worker's claim on the call; True when the client side has cancelled it."""
        pipe = self._r.pipeline(transaction=False)
        pipe.set(self._keys.llm_claim(call_id), "1", px=CLAIM_TTL_MS)
        pipe.exists(self._keys.llm_cancel(call_id))
        return bool(pipe.execute()[-1])

    def release(self, call_id: str) -> None:
        """The worker is done with the call (its last event, if any, is written)."""
        self._r.delete(self._keys.llm_claim(call_id))

    def publish_host(self, name: str, facts: dict[str, Any], ttl_ms: int) -> None:
        self._r.set(self._keys.llm_host(name), json.dumps(facts, separators=(",", ":")), px=ttl_ms)

    def drop_host(self, name: str) -> None:
        self._r.delete(self._keys.llm_host(name))

    # client side

    def read(self, call_id: str, after: str, block_ms: int) -> list[tuple[str, dict[str, Any]]]:
        """Events after the stream id `after` ('0' = from the start), waiting up to block_ms for the first."""
        got: Any = self._r.xread({self._keys.llm_out(call_id): after}, block=block_ms)
        out: list[tuple[str, dict[str, Any]]] = []
        for _key, entries in got or []:
            for entry_id, fields in entries:
                event = stored_json(fields.get("e"))
                out.append((entry_id, event if isinstance(event, dict) else {"type": "error", "status": 502}))
        return out

    def claimed(self, call_id: str) -> bool:
        """A worker is running the call now (it renewed its claim within CLAIM_TTL_MS)."""
        return bool(self._r.exists(self._keys.llm_claim(call_id)))

    def cancel(self, call_id: str) -> None:
        pipe = self._r.pipeline(transaction=False)
        pipe.set(self._keys.llm_cancel(call_id), "1", px=CALL_TTL_MS)
        pipe.delete(self._keys.llm_out(call_id))
        pipe.execute()

    def finish(self, call_id: str) -> None:
        """The client side has read everything: nothing of the call stays in Redis (prompts and answers are
        not stored)."""
        self._r.delete(self._keys.llm_out(call_id))

    def host(self, name: str) -> dict[str, Any] | None:
        facts = stored_json(self._r.get(self._keys.llm_host(name)))
        return facts if isinstance(facts, dict) else None
