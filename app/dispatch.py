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
        # Behind Flask-SocketIO's middleware sits Flask itself: a request that is not Socket.IO goes straight
        # there (the middleware copies the environ and builds a class per request just to pass it along).
        self._flask = getattr(wsgi_app, "wsgi_app", None) if hasattr(wsgi_app, "engineio_path") else None

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
        if self._flask is not None and not (environ.get("PATH_INFO") or "/").startswith("/socket.io"):
            return self._flask(environ, start_response)  # type: ignore[no-any-return]
        return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
