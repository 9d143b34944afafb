"""The one HTTP client for upstreams that speak OpenAI chat completions (local models, adapters, vendors).

No retries here (the gateway is the only retry loop), no redirects (an allowlisted host could bounce us to
Redis: RELIABILITY X3), pooled keep-alive connections.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

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


_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine)


class _KeepAlivePool:
    """Plain http.client keep-alive connections per host: half urllib3's cost per call on the hot path (it
    sends headers and body in one write and skips urllib3's per-request bookkeeping). Never redirects."""

    def __init__(self, max_idle: int) -> None:
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._max_idle = max_idle

    def _take(self, key: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        with self._lock:
            conns = self._idle.get(key)
            return conns.pop() if conns else None

    def _give(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            conns = self._idle.setdefault(key, [])
            if len(conns) < self._max_idle:
                conns.append(conn)
                return
        conn.close()

    def post(self, url: str, body: bytes, timeout_s: float, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
        parts = urlsplit(url)
        https = parts.scheme == "https"
        key = (parts.scheme, parts.hostname or "", parts.port or (443 if https else 80))
        path = parts.path or "/"
        hdrs = {"Content-Type": "application/json", "Host": parts.netloc, **headers}
        for fresh in (False, True):
            conn = None if fresh else self._take(key)
            reused = conn is not None
            if conn is None:
                cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
                conn = cls(key[1], key[2], timeout=min(timeout_s, 5.0))
            try:
                if conn.sock is None:
                    conn.connect()
                conn.sock.settimeout(timeout_s)
                conn.request("POST", path, body, hdrs)
                resp = conn.getresponse()
                data = resp.read()
            except _STALE as exc:
                conn.close()
                if reused:
                    continue  # the server closed an idle keep-alive connection: once more on a new one
                raise UpstreamFailure("protocol_error", True) from exc
            except TimeoutError as exc:
                conn.close()
                raise UpstreamFailure("timeout", True) from exc
            except (ConnectionRefusedError, socket.gaierror) as exc:
                conn.close()
                raise UpstreamFailure("connect_error", True) from exc
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                raise UpstreamFailure("protocol_error", True) from exc
            if resp.will_close:
                conn.close()
            else:
                self._give(key, conn)
            return resp.status, data, resp.getheader("Retry-After")
        raise UpstreamFailure("protocol_error", True)


class OpenAICompatClient:
    def __init__(self, pool_size: int = 64) -> None:
        self._pool = urllib3.PoolManager(num_pools=128, maxsize=pool_size, block=False, retries=False)
        self._fast = _KeepAlivePool(pool_size)

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
        status, data, retry_after = self._fast.post(url, body, timeout_s, headers)
        if status != 200:
            raise _failure_for(status, data, retry_after)
        return UpstreamReply(status, data)

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
