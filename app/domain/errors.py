"""The one exception hierarchy the domain raises; app/errors.py alone maps it to HTTP."""

from __future__ import annotations

from typing import Any


class PasError(Exception):
    code = "pas_error"  # the wire's "error" value

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class NotFound(PasError):
    code = "not_found"


class Conflict(PasError):
    code = "conflict"


class InvalidInput(PasError):
    code = "validation_error"


class UpstreamError(PasError):
    code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    code = "timeout"


class NotImplementedYet(PasError):
    code = "not_implemented"


class StoreUnavailable(PasError):
    code = "store_unavailable"
