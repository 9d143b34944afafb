from __future__ import annotations

from pydantic import Field

from contracts.common import Request


class ResourceRequest(Request):
    """resource_request: reserve resources and ports for a job, all or nothing."""

    job_id: str = Field(min_length=1, max_length=256)
    agent: str = Field(min_length=1, max_length=256)
    cpu: float = Field(default=0, ge=0, le=4096)
    mem_mb: int = Field(default=0, ge=0, le=1 << 30)
    gpu: int = Field(default=0, ge=0, le=1024)
    gpu_mem_mb: int = Field(default=0, ge=0, le=1 << 30)
    disk_gb: float = Field(default=0, ge=0, le=1 << 20)
    ports: list[int] = Field(default_factory=list, max_length=1024)
    service_id: str | None = Field(default=None, max_length=256)
    ttl_s: int | None = Field(default=None, ge=1, le=604800)
    timeout_s: int | None = Field(default=None, ge=1, le=604800)
    role: str | None = Field(default=None, max_length=100)
