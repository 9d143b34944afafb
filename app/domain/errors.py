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


class NoProvider(NotFound):
    code = "no_provider"


class BudgetExceeded(PasError):
    code = "budget_exceeded"


class Conflict(PasError):
    code = "conflict"


class InvalidInput(PasError):
    code = "validation_error"


class UpstreamError(PasError):
    code = "upstream_error"
    upstream: tuple[int, bytes] | None = None  # (status, body) of a client error the upstream answered


class UpstreamTimeout(UpstreamError):
    code = "timeout"


class LoopDetected(UpstreamError):
    code = "loop_detected"  # the call came back to PAS through its upstreams (X-PAS-Hops): 508


class NotImplementedYet(PasError):
    code = "not_implemented"


class StoreUnavailable(PasError):
    code = "store_unavailable"


class ModelUnavailable(PasError):
    code = "model_unavailable"  # 503: no worker hosts the model, or an adapter has no key


class ModelCallFailed(PasError):
    """A model call that failed on its worker, answered with the worker's status (429 with Retry-After, 502,
    503, 504 …) and code."""

    def __init__(self, detail: str, *, status: int, code: str, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.http_status = status
        self.code = code
        self.retry_after_s = retry_after_s
