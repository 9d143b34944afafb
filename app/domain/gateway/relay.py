"""What an upstream answered, read for the receipt: usage, a completion's size, an error's message, and the tally
of a relayed server-sent-events stream."""

from __future__ import annotations

import json

from app.domain.token_governor.tokens import CHARS_PER_TOKEN
from app.providers.openai_compat import UpstreamFailure


def usage(body: bytes) -> tuple[int, int] | None:
    try:
        usage = json.loads(body).get("usage")
        return int(usage["prompt_tokens"]), int(usage["completion_tokens"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def estimate_completion(body: bytes) -> int:
    try:
        choices = json.loads(body).get("choices") or []
        text = "".join(str((c.get("message") or {}).get("content") or "") for c in choices)
    except (ValueError, AttributeError):
        return 0
    return -(-len(text) // CHARS_PER_TOKEN)


def describe(failure: UpstreamFailure) -> str:
    if failure.body:
        try:
            err = json.loads(failure.body).get("error")
            message = err.get("message") if isinstance(err, dict) else err
            if message:
                return f"{failure.outcome}: {str(message)[:200]}"
        except (ValueError, AttributeError):
            pass
    return failure.outcome


def cached_tokens(usage: dict[str, object]) -> int:
    """OpenAI's `prompt_tokens_details.cached_tokens` (0 when absent or not a count)."""
    details = usage.get("prompt_tokens_details")
    value = details.get("cached_tokens") if isinstance(details, dict) else None
    return value if isinstance(value, int) and value >= 0 else 0


class SseTally:
    """Counts what passes through a server-sent-events relay: content characters and the final usage."""

    def __init__(self) -> None:
        self.bytes = 0
        self.chars = 0
        self.usage: tuple[int, int] | None = None
        self.cached = 0  # of the prompt tokens, those the upstream read from its cache
        self.done = False
        self._buf = b""

    def feed(self, chunk: bytes) -> None:
        self.bytes += len(chunk)
        self._buf += chunk
        *events, self._buf = self._buf.split(b"\n\n")
        for event in events:
            for line in event.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    self.done = True
                    continue
                if not data:
                    continue
                try:
                    obj = json.loads(data)
                except ValueError:
                    continue
                usage = obj.get("usage") if isinstance(obj, dict) else None
                if isinstance(usage, dict) and "prompt_tokens" in usage:
                    self.usage = (int(usage["prompt_tokens"]), int(usage.get("completion_tokens", 0)))
                    self.cached = cached_tokens(usage)
                for choice in obj.get("choices") or [] if isinstance(obj, dict) else []:
                    content = (choice.get("delta") or {}).get("content")
                    if isinstance(content, str):
                        self.chars += len(content)
