"""Gateway — legacy port 6120, main port /api/gateway: invoke models through the router, with receipts and
budgets."""

from __future__ import annotations

from flask import Blueprint, Response, request

from app.domain.gateway import requests as gateway_requests
from app.domain.gateway.upstream import HOPS_HEADER, parse_hops
from blueprints._http import doc, parse, parse_query, respond, single_query_values, svc
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
    RouteRequest,
    RouteResponse,
)

bp = Blueprint("gateway", __name__, url_prefix="/api/gateway")
TAGS = ("gateway",)
CALL_ERRORS: dict[int, type[ErrorBody] | None] = {404: ErrorBody, 429: ErrorBody, 502: ErrorBody, 504: ErrorBody,
                                                  508: ErrorBody}  # fmt: skip


def _hops() -> int:
    return parse_hops(request.headers.get(HOPS_HEADER))


@bp.post("/route")
@doc(json=RouteRequest, resp={200: RouteResponse, **CALL_ERRORS}, tags=TAGS)
def route() -> Response:
    """Resolve by requirements and policy, call the upstream (retries, fallback), answer with its response and
    the cost. No payload = a dry run."""
    return respond(gateway_requests.route(svc().gateway, parse(RouteRequest), _hops()))


@bp.post("/invoke")
@doc(json=InvokeRequest, resp={200: RouteResponse, **CALL_ERRORS}, tags=TAGS)
def invoke() -> Response:
    """Invoke a model by target (name, or required capabilities) under a policy."""
    return respond(gateway_requests.invoke(svc().gateway, parse(InvokeRequest), _hops()))


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
@doc(json=BudgetSetBody, query_or_body=BudgetSetBody, resp={200: BudgetSetResponse}, tags=TAGS)
def set_budget() -> Response:
    """Set a run's (or an agent's) budget in USD: query `run_id`, `budget_usd` or the JSON body."""
    single_query_values(("run_id", "agent", "budget_usd"))
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
    return respond(svc().gateway.health())
