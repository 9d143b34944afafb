from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

# Every number a client sends lands in Redis (Lua numbers are doubles: integers exact to 2^53), in SQL BIGINT
# columns, or in JSON other clients parse as doubles: integers stay within ±(2^53 - 1), floats are finite.
# Each field adds its own lower bound (ge=0, gt=0 …); tests/unit/test_contracts.py checks every request field.
MAX_SAFE_INT = 2**53 - 1
SafeInt = Annotated[int, Field(le=MAX_SAFE_INT)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

# Ids and names clients choose (service ids, agent names, run ids, job ids …): printable characters, emoji
# welcome, but no control characters (Cc, NUL included) and no bidi overrides/isolates (U+202A-U+202E,
# U+2066-U+2069), which would make one id render as another in the HMI and in logs.
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*$"  # lengths: each field's min/max_length


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
