"""gunicorn settings, derived from Settings: one process binds the main port and every legacy port."""

import math

from app.gunicorn_tuning import coalesce_headers_with_body, json_error_pages
from config.settings import get_settings

coalesce_headers_with_body()  # in the master, before the workers fork
json_error_pages()

_settings = get_settings()
if refusal := _settings.open_bind_refusal():  # RELIABILITY A3, whoever starts gunicorn with this file
    raise SystemExit(f"pas web: {refusal}")

bind = [f"{_settings.pas_host}:{port}" for port in _settings.bind_ports()]
# gevent: gunicorn's worker with a 408 for a head that is too slow and a cap per client address (see its module).
worker_class = {"gevent": "app.gunicorn_worker.PasGeventWorker", "eventlet": "eventlet", "threading": "gthread"}[
    _settings.pas_async_mode
]
# One worker per process: Socket.IO's long-polling needs sticky sessions, which gunicorn cannot give.
workers = _settings.pas_web_workers
threads = 8 if worker_class == "gthread" else 1
worker_connections = _settings.pas_web_connections
timeout = 60
graceful_timeout = 10
# The wait for a request head, idle or arriving (whole seconds; the gevent worker takes PAS_HEADER_TIMEOUT_S as is).
keepalive = max(1, math.ceil(_settings.pas_header_timeout_s))
accesslog = None  # PAS logs one structured line per request itself
errorlog = "-"
loglevel = "warning"
preload_app = False  # gevent must patch before the app (and its clients) are built
proc_name = "pas-web"
