"""Job cards — main port /jobs (the Celery job platform)."""

from __future__ import annotations

from flask import Blueprint, Response

from blueprints._http import doc, parse, parse_optional, parse_query, respond, svc
from contracts.common import ErrorBody
from contracts.jobs import JobCard, JobList, JobRecord, JobsQuery
from contracts.resource_manager import KillRequest, KillResponse

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
TAGS = ("jobs",)


class KillBody(KillRequest):
    job_id: str = ""  # from the path


@bp.post("")
@doc(json=JobCard, resp={201: JobRecord, 409: ErrorBody}, tags=TAGS)
def create() -> Response:
    """Reserve the card's resources and enqueue its task; 409 when the resources are not there."""
    return respond(svc().jobs.create(parse(JobCard)), 201)


@bp.get("")
@doc(query=JobsQuery, resp={200: JobList}, tags=TAGS)
def list_jobs() -> Response:
    """Jobs, newest first."""
    return respond(JobList(jobs=svc().jobs.list(parse_query(JobsQuery))))


@bp.get("/<job_id>")
@doc(resp={200: JobRecord, 404: ErrorBody}, tags=TAGS)
def get_job(job_id: str) -> Response:
    """One job: state, timings, reservation, result or error."""
    return respond(svc().jobs.get(job_id))


@bp.post("/<job_id>/kill")
@doc(json=KillBody, resp={200: KillResponse, 404: ErrorBody}, tags=TAGS, body_optional=True)
def kill(job_id: str) -> Response:
    """Revoke the job's task (terminating it) and mark its reservations killed."""
    body = parse_optional(KillBody)
    return respond(svc().jobs.kill(job_id, body.reason))
