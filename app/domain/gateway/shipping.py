"""Receipts from Redis to SQL (beat's pas.gateway.ship), and Idempotency-Key replay: both over the gateway's
store alone."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable

from app.domain.errors import Conflict, InvalidInput
from app.domain.timefmt import iso_ms
from models.gateway_store import GatewayStore, to_micro
from models.receipt_store import ReceiptStore


def idempotent(
    store: GatewayStore, ttl_s: int, key: str, body: bytes, run: Callable[[], tuple[int, bytes]]
) -> tuple[int, bytes]:
    """The first call with a key runs; later ones get its answer (same key, other body → 422, in flight → 409)."""
    fp = hashlib.sha256(body).hexdigest()
    seen = store.claim_idempotency(key, fp, uuid.uuid4().hex, ttl_s)
    if seen is None:
        try:
            status, out = run()
        except Exception:
            store.release_idempotency(key)
            raise
        store.settle_idempotency(key, status, out)
        return status, out
    if seen.get("fp") != fp:
        raise InvalidInput("Idempotency-Key was used with a different body", field="Idempotency-Key")
    if seen.get("state") != "done":
        raise Conflict("a request with this Idempotency-Key is in progress", field="Idempotency-Key")
    return int(seen["status"]), seen["body"].encode()


def ship_receipts(store: GatewayStore, receipts: ReceiptStore, batch: int = 1000) -> int:
    """Queued final receipts into SQL; ON CONFLICT DO NOTHING, so a replayed batch inserts nothing twice."""
    raw = store.queued_receipts(batch)
    if not raw:
        return 0
    rows = []
    for line in raw:
        r = json.loads(line)
        rows.append({
            "receipt_id": r["receipt_id"], "request_id": r["request_id"], "run_id": r["run_id"],
            "agent": r["agent"], "ts_ms": iso_ms(r["timestamp"]), "provider": r["provider"], "model": r["model"],
            "status": r["status"], "input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"],
            "cost_micro_usd": to_micro(r["cost_usd"]), "latency_ms": r["latency_ms"], "body": line,
        })  # fmt: skip
    receipts.insert_many(rows)
    store.drop_shipped(len(raw))
    return len(raw)
