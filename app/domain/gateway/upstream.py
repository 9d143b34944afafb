"""The one door upstream text comes in by: every answer, error body and stream byte an upstream sends passes the
secret scrubber here, before the gateway stores, logs or relays any of it. And the hop count every outbound call
carries, so no chain of calls can lead back into PAS for ever."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from app.domain.errors import InvalidInput
from app.domain.gateway.scrub import Scrubber, StreamScrubber
from app.providers.openai_compat import OpenAICompatClient, UpstreamFailure, UpstreamStream

HOPS_HEADER = "X-PAS-Hops"  # how many PAS gateways this call has already passed through
RECEIPT_HEADER = "X-PAS-Receipt-Id"  # the receipt of the call an upstream request serves: its logs join PAS's
MAX_HOPS = 3  # an inbound call that has passed this many is refused (508 loop_detected)
_NOT_SECRET = frozenset({"content-type", "accept", "user-agent", "anthropic-version", "anthropic-beta",
                         "x-claude-code-session-id", "x-claude-code-agent-id", HOPS_HEADER.lower(),
                         RECEIPT_HEADER.lower()})  # fmt: skip


def parse_hops(value: str | None) -> int:
    """The inbound X-PAS-Hops: absent = 0 (a client, not a PAS)."""
    if value is None or not value.strip():
        return 0
    text = value.strip()
    if not text.isdigit() or len(text) > 6:
        raise InvalidInput(f"{HOPS_HEADER} must be a non-negative integer", field=HOPS_HEADER)
    return int(text)


def _sent(headers: dict[str, str]) -> Iterator[str]:
    """The key we hand the upstream, which it could quote back: Authorization's credentials (after the scheme
    word, which stays readable) or any other key header's value."""
    for name, value in headers.items():
        if name.lower() not in _NOT_SECRET:
            yield value.partition(" ")[2] or value


class ScrubbedStream:
    """An upstream stream whose bytes are scrubbed a whole server-sent event at a time."""

    def __init__(self, inner: UpstreamStream, scrubber: Scrubber) -> None:
        self._inner = inner
        self._scrubber = scrubber

    def chunks(self) -> Iterator[bytes]:
        ss = StreamScrubber(self._scrubber)
        try:
            for chunk in self._inner.chunks():
                out = ss.feed(chunk)
                if out:
                    yield out
        except UpstreamFailure:
            rest = ss.flush()  # what arrived before the break is relayed, as without a scrubber
            if rest:
                yield rest
            raise
        rest = ss.flush()
        if rest:
            yield rest

    def close(self) -> None:
        self._inner.close()


class ScrubbingClient:
    """The provider client behind the scrubber. `secrets` gives every configured secret (provider keys,
    PAS_API_TOKEN); the headers of each call add the key it carries."""

    def __init__(self, client: OpenAICompatClient, secrets: Callable[[], Iterable[str]]) -> None:
        self._client = client
        self._secrets = secrets
        self._cached: tuple[tuple[str, ...], Scrubber] = ((), Scrubber(()))

    def scrubber(self, headers: dict[str, str] | None = None) -> Scrubber:
        key = tuple(sorted({*self._secrets(), *_sent(headers or {})} - {""}))
        cached = self._cached  # one tuple, swapped whole: safe across threads
        if cached[0] != key:
            cached = (key, Scrubber(key))
            self._cached = cached
        return cached[1]

    def chat(self, url: str, body: bytes, timeout_s: float, headers: dict[str, str]) -> bytes:
        scrubber = self.scrubber(headers)
        try:
            reply = self._client.chat(url, body, timeout_s, headers)
        except UpstreamFailure as failure:
            raise replace(failure, body=scrubber.scrub(failure.body)) from None  # the cause may quote a URL
        return scrubber.scrub(reply.body)

    def stream(self, url: str, body: bytes, timeout_s: float, headers: dict[str, str]) -> ScrubbedStream:
        scrubber = self.scrubber(headers)
        try:
            inner = self._client.stream(url, body, timeout_s, headers)
        except UpstreamFailure as failure:
            raise replace(failure, body=scrubber.scrub(failure.body)) from None
        return ScrubbedStream(inner, scrubber)
