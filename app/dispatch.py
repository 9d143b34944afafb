"""Legacy ports → blueprints: one gunicorn binds every port; the arrival port picks the service.

Paths collide across services (/health, /register, /stats …), so on a legacy port a path is rewritten to the
service's main-port prefix: :6121/register ≡ :6100/api/registry/register.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from config.ports import BY_PORT, HMI_OWN_PATHS

LEGACY_PORT = "pas.legacy_port"


class PortDispatch:
    def __init__(self, wsgi_app: Any, enabled: bool = True, offset: int = 0) -> None:
        self.wsgi_app = wsgi_app
        self.enabled = enabled
        self.offset = offset

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.enabled:
            try:
                service = BY_PORT.get(int(environ.get("SERVER_PORT") or 0) - self.offset)
            except ValueError:
                service = None
            if service is not None:
                environ[LEGACY_PORT] = service.port
                path = environ.get("PATH_INFO") or "/"
                # Socket.IO and the HMI pages are served at the same paths on every port.
                if not path.startswith("/socket.io") and (service.slug != "hmi" or path in HMI_OWN_PATHS):
                    environ["PATH_INFO"] = service.prefix + path
        return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
