"""The one HTTP client for upstreams that speak OpenAI chat completions (local models, adapters, vendors).

No retries here (the gateway is the only retry loop), no redirects (an allowlisted host could bounce us to
Redis: RELIABILITY X3), pooled keep-alive connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class UpstreamFailure(Exception):
    outcome: str  # http_<code>, timeout, connect_error, protocol_error
    retryable: bool
    status: int | None = None
    retry_after_s: float | None = None
    body: bytes = b""

    def __str__(self) -> str:
        return self.outcome


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    body: bytes


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return None  # an HTTP date: we fall back to our own backoff


def _failure_for(status: int, body: bytes, retry_after: str | None) -> UpstreamFailure:
    return UpstreamFailure(f"http_{status}", status in RETRYABLE_STATUS, status, _retry_after(retry_after), body[:2000])


class UpstreamStream:
    """An open streaming response; iterate for raw bytes as they arrive; close() always."""

    def __init__(self, resp: urllib3.BaseHTTPResponse) -> None:
        self._resp = resp

    def chunks(self) -> Iterator[bytes]:
        try:
            while True:
                data = self._resp.read1(65536) if hasattr(self._resp, "read1") else self._resp.read(65536)
                if not data:
                    return
                yield data
        except ReadTimeoutError as exc:
            raise UpstreamFailure("timeout", False) from exc
        except (ProtocolError, HTTPError, OSError) as exc:
            raise UpstreamFailure("protocol_error", False) from exc

    def close(self) -> None:
        self._resp.release_conn()
        self._resp.close()


class OpenAICompatClient:
    def __init__(self, pool_size: int = 64) -> None:
        self._pool = urllib3.PoolManager(num_pools=128, maxsize=pool_size, block=False, retries=False)

    def _open(
        self, url: str, body: bytes, timeout_s: float, headers: dict[str, str], preload: bool
    ) -> urllib3.BaseHTTPResponse:
        try:
            return self._pool.request(
                "POST",
                url,
                body=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s),
                redirect=False,
                retries=False,
                preload_content=preload,
            )
        except (ConnectTimeoutError, ReadTimeoutError) as exc:
            raise UpstreamFailure("timeout", True) from exc
        except NewConnectionError as exc:
            raise UpstreamFailure("connect_error", True) from exc
        except (ProtocolError, HTTPError, OSError) as exc:
            raise UpstreamFailure("protocol_error", True) from exc

    def chat(self, url: str, body: bytes, timeout_s: float, headers: dict[str, str]) -> UpstreamReply:
        resp = self._open(url, body, timeout_s, headers, preload=True)
        if resp.status != 200:
            raise _failure_for(resp.status, resp.data, resp.headers.get("Retry-After"))
        return UpstreamReply(resp.status, resp.data)

    def stream(self, url: str, body: bytes, timeout_s: float, headers: dict[str, str]) -> UpstreamStream:
        resp = self._open(url, body, timeout_s, headers, preload=False)
        if resp.status != 200:
            try:
                data = resp.read()
            except (ProtocolError, HTTPError, OSError):
                data = b""
            resp.release_conn()
            raise _failure_for(resp.status, data, resp.headers.get("Retry-After"))
        return UpstreamStream(resp)
