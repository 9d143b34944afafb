"""`python -m app.model_worker NAME` (`pas worker --model NAME`): the Celery worker that hosts one local model.

One model load per process: the model is loaded before the worker consumes its queue (llm.<name>), with a
resource-manager reservation for its memory held from load to unload; the worker registers the model in the
registry (type "model") and heartbeats while it lives, so a killed worker's model goes down on schedule."""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

log = logging.getLogger("pas.models")
SWITCH_INTERVAL_S = 0.0005


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python -m app.model_worker NAME")
    name = argv[0]
    # The call's flusher thread (app/domain/llm_calls/channel.py) waits for the GIL at each socket operation
    # while generation runs Python between llama.cpp calls; at the default 5 ms switch interval one XADD of the
    # first token took 4 ms (p50; 16 ms p90) instead of 0.4 ms. A shorter interval hands the GIL over sooner.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    from celery.signals import worker_init, worker_shutdown

    from app.factory import create_app
    from app.wiring import services
    from tasks.models import HOSTED, hosted

    flask_app = create_app(serve_socketio=False, process=f"model-{name}")
    celery = flask_app.extensions["celery"]
    celery.conf.include = ["tasks.models"]
    # Its calls are acked on receipt (at most once: tasks/models.py), so the Redis transport's ack emulation (an
    # unacked hash written on delivery and cleared at the ack: two pipelines before each call starts) buys
    # nothing here; a clean shutdown still puts back what was fetched and not yet started.
    celery.conf.broker_transport_options = {**celery.conf.broker_transport_options, "ack_emulation": False}
    celery.conf.worker_disable_rate_limits = True  # no task here has a rate limit: skip the bucket on every call
    stop = threading.Event()

    @worker_init.connect  # type: ignore[untyped-decorator]
    def _load(**_: Any) -> None:
        with flask_app.app_context():
            HOSTED.append(services().local_models.load(name))
            threading.Thread(target=_beat, name="model-heartbeat", daemon=True).start()

    def _beat() -> None:
        with flask_app.app_context():
            services().local_models.heartbeat_loop(hosted(), stop)

    @worker_shutdown.connect  # type: ignore[untyped-decorator]
    def _unload(**_: Any) -> None:
        stop.set()
        if HOSTED:
            with flask_app.app_context():
                services().local_models.unload(hosted())

    settings = flask_app.extensions["settings"]
    celery.worker_main([
        "worker", "--pool", "solo", "--concurrency", "1", "--queues", settings.model_queue(name),
        "--hostname", f"model-{name}-{os.getpid()}@%h", "--loglevel", "INFO",
        "--without-heartbeat", "--without-mingle", "--without-gossip",
    ])  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
