"""Arrival port → service prefix (the legacy-port contract)."""

from __future__ import annotations

import pytest

from app.dispatch import LEGACY_PORT, PortDispatch


def seen(port: int, path: str, offset: int = 0) -> tuple[str, object]:
    captured = {}

    def app(environ, start_response):
        captured.update(environ)
        return [b""]

    PortDispatch(app, offset=offset)({"SERVER_PORT": str(port), "PATH_INFO": path}, None)
    return captured["PATH_INFO"], captured.get(LEGACY_PORT)


@pytest.mark.parametrize(
    ("port", "path", "expected"),
    [
        (6121, "/register", "/api/registry/register"),
        (6121, "/", "/api/registry/"),
        (6109, "/stats", "/api/heartbeat-monitor/stats"),
        (6103, "/register", "/api/provider-router/register"),
        (8050, "/chat/completions", "/api/models/llama31-8b/chat/completions"),
        (8103, "/info", "/api/adapters/grok/info"),
        (6102, "/socket.io/", "/socket.io/"),
        (6101, "/tree", "/tree"),
        (6101, "/api/services", "/api/services"),
        (6101, "/health", "/api/hmi/health"),
        (6100, "/api/registry/register", "/api/registry/register"),
        (9999, "/health", "/health"),
    ],
)
def test_port_rewrites(port: int, path: str, expected: str) -> None:
    assert seen(port, path)[0] == expected


def test_offset_shifts_every_port_and_marks_the_legacy_port() -> None:
    assert seen(26121, "/register", offset=20000) == ("/api/registry/register", 6121)
    assert seen(6121, "/register", offset=20000) == ("/register", None)
