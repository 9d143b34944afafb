"""A running PAS's registry over HTTP: `pas agents register` from a shell that does not know its Redis
(`pas up` starts an embedded Valkey on a port of its choosing)."""

from __future__ import annotations

import requests

from contracts.registry import RegisterRequest, RegisterResponse


class RegistryUnreachable(Exception):
    """PAS did not answer, or refused the registration; the message says which and what to do."""


class RegistryClient:
    def __init__(self, base_url: str, token: str | None, *, timeout_s: float = 10.0) -> None:
        self._url = base_url.rstrip("/") + "/api/registry/register"
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._timeout = timeout_s
        self._session = requests.Session()

    def register(self, req: RegisterRequest) -> RegisterResponse:
        try:
            resp = self._session.post(
                self._url, data=req.model_dump_json(exclude_none=True), headers=self._headers,
                timeout=self._timeout, allow_redirects=False,
            )  # fmt: skip
        except requests.RequestException as exc:
            raise RegistryUnreachable(
                f"PAS is not reachable at {self._url} ({type(exc).__name__}); start it with `pas up`"
            ) from None
        if resp.status_code == 401:
            raise RegistryUnreachable(f"{self._url} answered 401: set PAS_API_TOKEN to PAS's token")
        if resp.status_code not in (200, 201):
            raise RegistryUnreachable(f"{self._url} answered {resp.status_code}: {resp.text[:500]}")
        return RegisterResponse.model_validate_json(resp.content)

    def close(self) -> None:
        self._session.close()
