"""The miss ladder as reads compute it (no Flask, no Redis)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.domain.registry.liveness import liveness
from app.domain.timefmt import iso, parse_client_ts
from tests.support import ROOT


def live(now: int, *, last: int = 0, interval: int = 1000, acted: int = 0, state: str = "up",
         since: int | None = None, cap: int = 10_000):  # fmt: skip
    return liveness(now_ms=now, last_hb_ms=last, interval_ms=interval, acted_level=acted, state=state,
                    preservation_since_ms=since, preservation_cap_ms=cap)  # fmt: skip


@pytest.mark.parametrize(
    ("now", "missed", "down", "gone"),
    [(0, 0, False, False), (999, 0, False, False), (1000, 1, False, False), (1999, 1, False, False),
     (2000, 2, True, False), (2999, 2, True, False), (3000, 3, True, True), (99_000, 99, True, True)],
)  # fmt: skip
def test_ladder_on_the_clock(now: int, missed: int, down: bool, gone: bool) -> None:
    got = live(now)
    assert (got.missed, got.down, got.gone) == (missed, down, gone)


def test_interval_60s_read_at_120s_is_down() -> None:
    assert live(120_000, interval=60_000).down and not live(119_999, interval=60_000).down


def test_stored_down_state_and_level_never_go_backwards() -> None:
    assert live(10, state="down").down
    assert live(10, acted=2).missed == 2


def test_self_preservation_holds_only_deregistration() -> None:
    held = live(3500, since=2500, cap=2000)
    assert held.down and not held.gone and held.held
    assert live(4600, since=2500, cap=2000).gone  # the cap ran out
    # at least one interval of hold, even with a short cap
    assert not live(4000, interval=1000, since=3500, cap=0).gone


def test_iso_and_client_ts() -> None:
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    assert parse_client_ts("2023-11-14T22:13:20.123Z") == 1_700_000_000_123
    assert parse_client_ts(1_700_000_000.5) == 1_700_000_000_500
    assert parse_client_ts("yesterday") is None


def test_domain_imports_no_flask_or_celery() -> None:
    code = (
        "import sys, app.domain.registry.service, app.domain.heartbeat_monitor.monitor, app.domain.events;"
        "bad = [m for m in ('flask', 'celery', 'flask_socketio') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
