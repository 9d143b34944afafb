"""Gateway — legacy port 6120, main port /api/gateway: invoke models through the router, with receipts and
budgets."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, request

from app.domain.errors import PasError
from app.domain.gateway.service import CallMeta, CallResult
from app.domain.provider_router.routing import Ask
from blueprints._http import doc, parse, parse_query, respond, svc
from contracts.common import ErrorBody
from contracts.gateway import (
    BudgetSetBody,
    BudgetSetRequest,
    BudgetSetResponse,
    BudgetStatus,
    GatewayHealth,
    InvokeRequest,
    Metrics,
    MetricsQuery,
    ReceiptsResponse,
    RouteCost,
    RouteRequest,
    RouteResponse,
)
from contracts.provider_router import Candidate

bp = Blueprint("gateway", __name__, url_prefix="/api/gateway")
TAGS = ("gateway",)
CALL_ERRORS: dict[int, type[ErrorBody] | None] = {404: ErrorBody, 429: ErrorBody, 502: ErrorBody, 504: ErrorBody}


def _answer(request_id: str, run_id: str | None, result: CallResult) -> Response:
    r = result.receipt
    cands = [Candidate.model_validate(c) for c in r["candidates"]]
    body = RouteResponse(
        request_id=request_id,
        run_id=run_id,
        status="success",
        provider=r["provider"],
        model=r["model"],
        response=result.response,
        cost=RouteCost(
            input_tokens=r["input_tokens"],
            output_tokens=r["output_tokens"],
            cost_usd=r["cost_usd"],
            latency_ms=r["latency_ms"],
        ),
        alternatives=cands[1:],
        dry_run=r["dry_run"],
        receipt_id=r["receipt_id"],
        timestamp=r["timestamp"],
    )
    return respond(body)


def _call(ask: Ask, payload: dict[str, object] | None, meta: CallMeta) -> Response:
    try:
        return _answer(meta.request_id, meta.run_id, svc().gateway.call(ask, payload, meta))
    except PasError as exc:
        exc.extra.setdefault("request_id", meta.request_id)
        raise


@bp.post("/route")
@doc(json=RouteRequest, resp={200: RouteResponse, **CALL_ERRORS}, tags=TAGS, mutating=True)
def route() -> Response:
    """Resolve by requirements and policy, call the upstream (retries, fallback), answer with its response and
    the cost. No payload = a dry run."""
    req = parse(RouteRequest)
    r = req.requirements
    gw = svc().gateway
    in_tokens = r.context_window
    ask = Ask(
        model=r.model, capability=r.capability, provider=r.provider, context_tokens=in_tokens,
        features=frozenset(r.features), optimization=req.optimization,
        max_cost_usd=req.budget.max_cost_usd if req.budget else None,
        max_latency_ms=req.budget.max_latency_ms if req.budget else None,
        sla_ms_p95=gw.router.policy_sla_ms,
    )  # fmt: skip
    meta = CallMeta(req.request_id, req.run_id, req.agent, req.timeout_s)
    return _call(ask, req.payload, meta)


@bp.post("/invoke")
@doc(json=InvokeRequest, resp={200: RouteResponse, **CALL_ERRORS}, tags=TAGS, mutating=True)
def invoke() -> Response:
    """Invoke a model by target (name, or required capabilities) under a policy."""
    req = parse(InvokeRequest)
    gw = svc().gateway
    t = req.target
    name_is_provider = t.name is not None and gw.router.provider(t.name) is not None
    ask = Ask(
        provider=t.name if name_is_provider else None,
        model=t.name if t.name is not None and not name_is_provider else None,
        capabilities=frozenset(t.require_caps),
        optimization=req.policy.prefer,
        max_cost_usd=req.policy.max_cost_usd,
        sla_ms_p95=req.policy.sla_ms_p95 if req.policy.sla_ms_p95 is not None else gw.router.policy_sla_ms,
    )
    meta = CallMeta(req.request_id or uuid.uuid4().hex, req.run_id, req.agent or "invoke", req.policy.timeout_s)
    return _call(ask, req.payload, meta)


@bp.get("/metrics")
@doc(query=MetricsQuery, resp={200: Metrics}, tags=TAGS)
def metrics() -> Response:
    """Cost, requests and tokens over the last minute / hour / day (60 s, 1 h, 24 h)."""
    return respond(svc().gateway.metrics(parse_query(MetricsQuery).window))


@bp.get("/receipts/<run_id>")
@doc(resp={200: ReceiptsResponse}, tags=TAGS)
def receipts(run_id: str) -> Response:
    """Every receipt of a run, oldest first (unknown run → empty)."""
    return respond(svc().gateway.receipts(run_id))


@bp.post("/budget")
@doc(json=BudgetSetRequest, resp={200: BudgetSetResponse}, tags=TAGS, mutating=True)
def set_budget() -> Response:
    """Set a run's (or an agent's) budget in USD: query `run_id`, `budget_usd` or the JSON body."""
    fields: dict[str, object] = {k: v for k, v in request.args.items() if k in ("run_id", "agent", "budget_usd")}
    raw = request.get_data()
    if raw.strip():
        body = parse(BudgetSetBody)  # the body's fields win over the query's
        fields.update(body.model_dump(exclude_unset=True))
    req = BudgetSetRequest.model_validate(fields)
    return respond(svc().gateway.set_budget(req))


@bp.get("/budget/<run_id>")
@doc(resp={200: BudgetStatus}, tags=TAGS)
def budget(run_id: str) -> Response:
    """A run's budget: spent, in flight, remaining, alert level."""
    return respond(svc().gateway.budget("run", run_id))


@bp.get("/budget/agent/<agent>")
@doc(resp={200: BudgetStatus}, tags=TAGS)
def agent_budget(agent: str) -> Response:
    """An agent's budget across its runs."""
    return respond(svc().gateway.budget("agent", agent))


@bp.get("/health")
@doc(resp={200: GatewayHealth}, tags=TAGS)
def health() -> Response:
    """Gateway health."""
    s = svc()
    try:
        s.redis.ping()
        redis_state = "ok"
    except Exception:
        redis_state = "unreachable"
    stats = s.provider_router.stats()
    return respond(
        GatewayHealth(
            timestamp=s.hmi.now(),
            dependencies={
                "redis": redis_state,
                "provider_router": "ok",
                "providers_active": str(stats.active_providers),
            },
            pending_receipts=s.gateway.pending_count(),
        )
    )
