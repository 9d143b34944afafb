from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Request(BaseModel):
    """A JSON request body: unknown fields and wrong types are 422, never coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query-string parameters: strings arrive, numbers are parsed; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")


class Body(BaseModel):
    """A response body."""

    model_config = ConfigDict(extra="allow")


class ErrorItem(BaseModel):
    field: str
    msg: str
    type: str


class ErrorBody(Body):
    error: str = Field(examples=["validation_error"])
    detail: str
    field: str | None = None
    errors: list[ErrorItem] | None = None


class Success(Body):
    success: bool = True
    ts: str


class ServiceIndex(Body):
    """GET / on every port."""

    service: str
    version: str
    port: int
    status: str
    endpoints: list[str]
    docs: str
    counters: dict[str, Any] = Field(default_factory=dict)
