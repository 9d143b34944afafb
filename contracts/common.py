from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

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


def integral(value: Any, annotation: Any) -> Any:
    """JSON has one number type: where a field is an integer, `343.0` is the integer 343 (as JSON Schema's
    `integer` says, and what a float-typed serializer sends); `343.5` stays a float and is refused, and so do
    strings and booleans. Applied through unions, Annotated and lists; a field that also takes floats is left be."""
    if annotation is int:
        return int(value) if type(value) is float and value.is_integer() else value
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return integral(value, args[0])
    if origin in (Union, types.UnionType):
        if float in args or type(value) is not float:
            return value
        # the first member that takes it as an integer (`str | int`: a string member leaves it a float)
        return next((v for a in args if type(v := integral(value, a)) is int), value)
    if origin is list and isinstance(value, list) and args:
        return [integral(v, args[0]) for v in value]
    return value


class Request(BaseModel):
    """A JSON request body: unknown fields and wrong types are 422, never coerced (but 343.0 is an integer)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _integral_floats(cls, value: Any, info: ValidationInfo) -> Any:
        if type(value) is not float and type(value) is not list:  # the hot path: nothing to do
            return value
        field = cls.model_fields.get(info.field_name or "")
        return value if field is None else integral(value, field.annotation)


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
