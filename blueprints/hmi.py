"""HMI — legacy port 6101 and `/` on the main port: the pages and their JSON facade (API-CONTRACT §9)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from blueprints._http import doc, parse, parse_query, respond, svc
from contracts.common import ErrorBody
from contracts.control import ActionRequest, ActionResponse, ControlState
from contracts.gateway import BudgetStatus, CostsQuery, CostsView, ReceiptsResponse
from contracts.hmi import (
    AgentActivity,
    AgentActivityQuery,
    AlertsFilter,
    Banner,
    CurrentTask,
    HmiAlerts,
    HmiHealth,
    HmiServices,
    Metrics,
    ResourcesView,
    Sequencer,
    SwarmView,
    Tree,
)

bp = Blueprint("hmi", __name__)
TAGS = ("hmi",)

PAGES = {
    "/": ("dashboard", "Dashboard"),
    "/tree": ("tree", "Agent tree"),
    "/sequencer": ("sequencer", "Sequencer"),
    "/resources": ("resources", "Resources"),
    "/costs": ("costs", "Costs"),
    "/alerts": ("alerts", "Alerts"),
}

# Everything the pages load is ours (vendored under static/); agent strings are written with textContent. No
# inline script or style, no eval; the live socket is same-origin ('self' covers ws:/wss: to this host, CSP 3).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _page(path: str) -> Response:
    page, title = PAGES[path]
    # The page's starting seq: whatever happens after it is replayed or re-read once the live stream is joined.
    last_seq = svc().events.last_seq()
    html = render_template("hmi/page.html", page=page, title=title, pages=PAGES, last_seq=last_seq)
    resp = Response(html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


for _path in PAGES:
    bp.add_url_rule(_path, f"page_{PAGES[_path][0]}", lambda _p=_path: _page(_p), methods=["GET"])


@bp.get("/api/hmi/health")
@doc(resp={200: HmiHealth}, tags=TAGS)
def health() -> Response:
    """HMI health."""
    return respond(HmiHealth(timestamp=svc().hmi.now()))


@bp.get("/api/services")
@doc(resp={200: HmiServices}, tags=TAGS)
def services() -> Response:
    """Every registered service (registry records)."""
    return respond(HmiServices(services=svc().hmi.services()))


@bp.get("/api/tree")
@doc(resp={200: Tree}, tags=TAGS)
def tree() -> Response:
    """The agent tree under "PAS Root", by labels.parent."""
    return respond(svc().hmi.tree())


@bp.get("/api/metrics")
@doc(resp={200: Metrics}, tags=TAGS)
def metrics() -> Response:
    """The five core services' health and a summary over exactly them."""
    return respond(svc().hmi.metrics())


@bp.get("/api/alerts")
@doc(query=AlertsFilter, resp={200: HmiAlerts}, tags=TAGS)
def alerts() -> Response:
    """Monitor alerts and the other services' alert events, oldest first."""
    return respond(HmiAlerts(alerts=svc().hmi.alerts(parse_query(AlertsFilter))))


@bp.get("/api/swarm")
@doc(resp={200: SwarmView}, tags=TAGS)
def swarm() -> Response:
    """The dashboard's snapshot: host, capacity, one card per service (context, holdings, current job)."""
    return respond(svc().hmi.swarm())


@bp.get("/api/banner")
@doc(resp={200: Banner}, tags=TAGS)
def banner() -> Response:
    """What the alert banner shows: services down and open critical alerts."""
    return respond(svc().hmi.banner())


@bp.get("/api/resources")
@doc(resp={200: ResourcesView}, tags=TAGS)
def resources() -> Response:
    """Capacity, utilization, active reservations and what each agent holds."""
    return respond(svc().hmi.resources())


@bp.get("/api/costs")
@doc(query=CostsQuery, resp={200: CostsView}, tags=TAGS)
def costs() -> Response:
    """Cost by provider over a window, $/min and tokens/min, the router's stats and the latest receipts."""
    q = parse_query(CostsQuery)
    return respond(svc().gateway.costs(q.window, q.limit))


@bp.get("/api/costs/receipts/<run_id>")
@doc(resp={200: ReceiptsResponse}, tags=TAGS)
def costs_receipts(run_id: str) -> Response:
    """A run's receipts (the gateway's /receipts/<run_id>)."""
    return respond(svc().gateway.receipts(run_id))


@bp.get("/api/costs/budget/<run_id>")
@doc(resp={200: BudgetStatus}, tags=TAGS)
def costs_budget(run_id: str) -> Response:
    """A run's budget (the gateway's /budget/<run_id>)."""
    return respond(svc().gateway.budget("run", run_id))


@bp.get("/api/current-task")
@doc(resp={200: CurrentTask}, tags=TAGS)
def current_task() -> Response:
    """The job running now, if any."""
    return respond(svc().hmi.current_task())


@bp.get("/api/sequencer")
@doc(resp={200: Sequencer}, tags=TAGS)
def sequencer() -> Response:
    """Agents and their jobs for the timeline."""
    return respond(svc().hmi.sequencer())


@bp.get("/api/agent-activity")
@doc(query=AgentActivityQuery, resp={200: AgentActivity}, tags=TAGS)
def agent_activity() -> Response:
    """Claude Code sessions, the delegations they made and every tool call, from the newest hook events."""
    q = parse_query(AgentActivityQuery)
    return respond(svc().hmi.agent_activity(q.limit, q.tools))


@bp.post("/api/action")
@doc(json=ActionRequest, resp={200: ActionResponse, 404: ErrorBody}, tags=TAGS)
def action() -> Response:
    """An operator action (Pause All / Resume All / pause or resume one agent / acknowledge an alert), audited."""
    return respond(svc().operations.act(parse(ActionRequest)))


@bp.get("/api/control")
@doc(resp={200: ControlState}, tags=TAGS)
def control() -> Response:
    """What is paused."""
    return respond(svc().operations.state())
