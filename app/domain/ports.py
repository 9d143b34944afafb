"""What the domain needs from outside, as protocols, so unit tests hand in fakes."""

from __future__ import annotations

from typing import Protocol


class EventEmitter(Protocol):
    def emit(self, bodies: list[str]) -> None:
        """Pushes already-recorded events (JSON bodies from the event stream) to live clients, at most once."""
