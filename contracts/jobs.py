from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from contracts.common import ID_PATTERN, Body, FiniteFloat, Query, Request


class JobResources(Request):
    cpu: FiniteFloat = Field(default=0, ge=0, le=4096)
    mem_mb: int = Field(default=0, ge=0, le=1 << 30)
    gpu: int = Field(default=0, ge=0, le=1024)
    gpu_mem_mb: int = Field(default=0, ge=0, le=1 << 30)
    disk_gb: FiniteFloat = Field(default=0, ge=0, le=1 << 20)
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(default_factory=list, max_length=1024)
    port_count: int = Field(default=0, ge=0, le=1024)


class JobCard(Request):
    """job_card: a unit of work for the Celery job platform, with the resources it holds while it runs."""

    agent: str = Field(min_length=1, max_length=256, pattern=ID_PATTERN)
    task: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    resources: JobResources = Field(default_factory=JobResources)
    timeout_s: int = Field(default=600, ge=1, le=86400)
    priority: int = Field(default=5, ge=0, le=9)
    run_id: str | None = Field(default=None, max_length=200, pattern=ID_PATTERN)
    parent_job_id: str | None = Field(default=None, max_length=256, pattern=ID_PATTERN)


JobStatus = Literal["queued", "running", "succeeded", "failed", "killed", "timeout", "denied"]


class JobRecord(Body):  # type: ignore[no-redef]
    model_config = ConfigDict(extra="ignore")  # a field named `kwargs` must not meet pydantic's **extra

    job_id: str
    agent: str
    task: str
    status: JobStatus
    progress: float
    attempts: int
    run_id: str | None
    parent_job_id: str | None
    reservation_id: str | None
    timeout_s: int
    priority: int
    args: list[Any]
    kwargs: dict[str, Any]
    resources: JobResources
    created_at: str
    started_at: str | None
    finished_at: str | None
    result: Any = None
    error: str | None = None


class JobList(Body):
    jobs: list[JobRecord]


class JobsQuery(Query):
    status: JobStatus | None = None
    limit: int = Field(default=100, ge=1, le=1000)
