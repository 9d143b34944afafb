"""The gateway's reads and budgets: receipts of a run, metrics per window, recent receipts, the costs view,
health; setting and reading budgets. A base of Gateway (the call path lives in service.py)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from app.domain.errors import InvalidInput
from app.domain.provider_router.service import ProviderRouter
from app.domain.timefmt import iso, iso_ms
from contracts.gateway import (
    BudgetSetRequest,
    BudgetSetResponse,
    BudgetStatus,
    CostsView,
    GatewayHealth,
    Metrics,
    Receipt,
    ReceiptsResponse,
)
from models.gateway_store import MICRO, GatewayStore, to_micro
from models.receipt_store import ReceiptStore

log = logging.getLogger("pas.gateway")

WINDOWS = {"minute": 60, "hour": 3600, "day": 86400}


class GatewayReports:
    router: ProviderRouter
    _store: GatewayStore
    _receipts: ReceiptStore
    _emit: Callable[[list[str]], None]

    def set_budget(self, req: BudgetSetRequest) -> BudgetSetResponse:
        if req.run_id is None and req.agent is None:
            raise InvalidInput("run_id or agent is required", field="run_id")
        micro = to_micro(req.budget_usd)
        if req.run_id is not None:
            self._emit(self._store.set_budget("run", req.run_id, micro))
        if req.agent is not None:
            self._emit(self._store.set_budget("agent", req.agent, micro))
        log.info("budget_set", extra={"run_id": req.run_id, "agent": req.agent, "budget_usd": req.budget_usd})
        return BudgetSetResponse(run_id=req.run_id, agent=req.agent, budget_usd=req.budget_usd)

    def budget(self, scope: str, name: str) -> BudgetStatus:
        got = self._store.budget(scope, name)
        if got is None:
            return BudgetStatus(run_id=name, budget_set=False, message=f"no budget set for {scope} {name!r}")
        budget, spent, inflight = got
        pct = round(100.0 * spent / budget, 2) if budget else 100.0
        level = "critical" if pct >= 100 else "warning" if pct >= 90 else "caution" if pct >= 75 else "ok"
        return BudgetStatus(
            run_id=name, budget_set=True, budget_usd=budget / MICRO, spent_usd=spent / MICRO,
            in_flight_usd=inflight / MICRO, remaining_usd=max(0, budget - spent - inflight) / MICRO,
            percent_used=pct, alert_level=level, can_proceed=spent + inflight < budget,
        )  # fmt: skip

    def _queued(self) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self._store.queued_receipts(100_000)]

    def receipts(self, run_id: str, limit: int = 10_000) -> ReceiptsResponse:
        # The queue first, then SQL: a receipt shipped in between is in both, never in neither.
        queued = [r for r in self._queued() if r["run_id"] == run_id]
        rows = [json.loads(b) for b in self._receipts.by_run(run_id, limit)]
        seen = {r["receipt_id"] for r in rows}
        merged = rows + [r for r in queued if r["receipt_id"] not in seen]
        merged.sort(key=lambda r: r["timestamp"])
        total = float(sum(Decimal(repr(r["cost_usd"])) for r in merged))
        return ReceiptsResponse(
            run_id=run_id, receipts=[Receipt.model_validate(r) for r in merged[-limit:]], count=len(merged),
            total_cost_usd=round(total, 6),
        )  # fmt: skip

    def metrics(self, window: str) -> Metrics:
        seconds = WINDOWS[window]
        since_ms = int(time.time() * 1000) - seconds * 1000
        queued = self._queued()
        rows: dict[str, tuple[str | None, str, int, int]] = {
            rid: (prov, status, tokens, micro)
            for rid, prov, status, tokens, micro, _ts in self._receipts.since(since_ms)
        }
        for r in queued:
            ts = iso_ms(r["timestamp"])
            if ts >= since_ms and r["receipt_id"] not in rows:
                rows[r["receipt_id"]] = (r["provider"], r["status"], r["input_tokens"] + r["output_tokens"],
                                         to_micro(r["cost_usd"]))  # fmt: skip
        req_by: dict[str, int] = {}
        cost_by: dict[str, int] = {}
        tok_by: dict[str, int] = {}
        total_micro = total_tokens = errors = 0
        for prov, status, tokens, micro in rows.values():
            name = prov or "none"
            req_by[name] = req_by.get(name, 0) + 1
            cost_by[name] = cost_by.get(name, 0) + micro
            tok_by[name] = tok_by.get(name, 0) + tokens
            total_micro += micro
            total_tokens += tokens
            errors += status not in ("success",)
        n = len(rows)
        return Metrics(
            window=window,
            total_cost_usd=total_micro / MICRO, total_requests=n, total_tokens=total_tokens,
            cost_per_request=round(total_micro / MICRO / n, 6) if n else 0.0,
            requests_per_provider=req_by, cost_per_provider={k: v / MICRO for k, v in cost_by.items()},
            tokens_per_provider=tok_by, errors=errors, window_s=seconds,
        )  # fmt: skip

    def recent(self, limit: int) -> list[Receipt]:
        """The latest receipts: those still queued for SQL, then SQL's newest."""
        queued = self._queued()[-limit:]
        rows = [json.loads(b) for b in self._receipts.latest(limit)]
        seen = {r["receipt_id"] for r in queued}
        merged = sorted(queued + [r for r in rows if r["receipt_id"] not in seen], key=lambda r: r["timestamp"])
        return [Receipt.model_validate(r) for r in merged[-limit:]]

    def costs(self, window: str, limit: int) -> CostsView:
        m = self.metrics(window)
        minutes = m.window_s / 60
        return CostsView(
            timestamp=iso(int(time.time() * 1000)), cost_metrics=m, provider_stats=self.router.stats(),
            usd_per_min=round(m.total_cost_usd / minutes, 6), tokens_per_min=round(m.total_tokens / minutes, 3),
            recent=self.recent(limit),
        )  # fmt: skip

    def pending_count(self) -> int:
        return self._store.pending_count()

    def health(self) -> GatewayHealth:
        redis_state = "ok" if self._store.ping() else "unreachable"
        stats = self.router.stats()
        return GatewayHealth(
            timestamp=iso(int(time.time() * 1000)),
            dependencies={
                "redis": redis_state,
                "provider_router": "ok",
                "providers_active": str(stats.active_providers),
            },
            pending_receipts=self._store.pending_count(),
        )
