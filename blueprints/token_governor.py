"""Token governor — legacy port 6105, main port /api/token-governor."""

from __future__ import annotations

from flask import Blueprint, Response, request

from blueprints._http import doc, parse, parse_optional, parse_query, respond, single_query_values, svc
from contracts.common import ErrorBody
from contracts.token_governor import (
    ClearRequest,
    ClearResponse,
    GovernorHealth,
    ResumeQuery,
    ResumeResponse,
    StatusQuery,
    StatusResponse,
    SummariesQuery,
    SummariesResponse,
    SummarizeRequest,
    SummarizeResponse,
    TrackRequest,
    TrackResponse,
)

bp = Blueprint("token_governor", __name__, url_prefix="/api/token-governor")
TAGS = ("token-governor",)


@bp.post("/track")
@doc(json=TrackRequest, resp={200: TrackResponse}, tags=TAGS)
def track() -> Response:
    """Report an agent's context use; warns at the target ratio, breaches (and summarizes) at the hard max."""
    return respond(svc().token_governor.track(parse(TrackRequest)))


@bp.get("/status")
@doc(query=StatusQuery, resp={200: StatusResponse}, tags=TAGS)
def status() -> Response:
    """Context use per (agent, run)."""
    q = parse_query(StatusQuery)
    return respond(StatusResponse(agents=svc().token_governor.status(q.agent, q.run_id)))


@bp.post("/summarize")
@doc(json=SummarizeRequest, resp={200: SummarizeResponse, 404: ErrorBody, 504: ErrorBody}, tags=TAGS)
def summarize() -> Response:
    """Summarize now (waits for the worker): the file exists and the context is 0 when this returns."""
    return respond(svc().token_governor.summarize(parse(SummarizeRequest)))


@bp.get("/summaries")
@doc(query=SummariesQuery, resp={200: SummariesResponse}, tags=TAGS)
def summaries() -> Response:
    """Summaries written, newest first."""
    return respond(SummariesResponse(summaries=svc().token_governor.summaries(parse_query(SummariesQuery))))


@bp.post("/clear")
@doc(json=ClearRequest, query_or_body=ClearRequest, resp={200: ClearResponse, 404: ErrorBody}, tags=TAGS)
def clear() -> Response:
    """Set an agent's context to 0 (agent and run_id in the query or the body)."""
    body = parse_optional(ClearRequest)
    single_query_values(("agent", "run_id"))
    agent = body.agent or request.args.get("agent")
    run_id = body.run_id or request.args.get("run_id") or "default"
    return respond(svc().token_governor.clear(agent, run_id))


@bp.get("/resume")
@doc(query=ResumeQuery, resp={200: ResumeResponse, 404: ErrorBody}, tags=TAGS)
def resume() -> Response:
    """The latest summary's text: the agent's new starting context."""
    q = parse_query(ResumeQuery)
    return respond(svc().token_governor.resume(q.agent, q.run_id))


@bp.get("/health")
@doc(resp={200: GovernorHealth}, tags=TAGS)
def health() -> Response:
    """Token governor health."""
    return respond(svc().token_governor.health())
