"""Secrets out of whatever an upstream says. A vendor that rejects a key often quotes it back ("Incorrect API key
provided: sk-…"); PAS must not pass that on to its client, a receipt, an event or a log line.

What counts as the secret: every configured provider key and PAS_API_TOKEN, in each form an upstream might
write it — raw, URL-encoded (%2F or %2f, + for a space), JSON-escaped (with or without \\/) — and any run of
FRAGMENT or more consecutive characters of one of those forms (a long prefix gives away as much as the key).
A vendor's mask such as `sk-ab…wxyz` keeps far fewer than FRAGMENT characters in a row and stays readable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

FRAGMENT = 16  # this many consecutive characters of a secret are redacted wherever they appear
ANCHOR = 8  # every FRAGMENT-long run of a form holds one of its anchors: one find() each rules a text out
MIN_SECRET = 4  # shorter values are not secrets worth corrupting every answer for
REDACTED = b"[REDACTED]"
_STEP = FRAGMENT - ANCHOR + 1
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def forms(secret: str) -> set[bytes]:
    """The secret as an upstream might write it."""
    url = quote(secret, safe="")
    out = {
        secret,
        url,
        _PERCENT.sub(lambda m: m.group(0).lower(), url),
        quote_plus(secret),
        quote(secret),  # "/" left as is
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    out |= {f.replace("/", "\\/") for f in out if "/" in f}  # JSON encoders that escape "/"
    return {f.encode() for f in out}


class Scrubber:
    """Replaces every secret (and every long run of one) in bytes or text with [REDACTED]. Pure; cheap when
    nothing matches: a few bytes.find() per secret."""

    def __init__(self, secrets: Iterable[str]) -> None:
        all_forms = {f for s in secrets if len(s) >= MIN_SECRET for f in forms(s)}
        self._short = sorted(f for f in all_forms if len(f) < FRAGMENT)  # matched whole only
        self._anchors: dict[bytes, list[tuple[bytes, int]]] = {}
        for form in all_forms:
            if len(form) >= FRAGMENT:
                for k in range(0, len(form) - ANCHOR + 1, _STEP):
                    self._anchors.setdefault(form[k : k + ANCHOR], []).append((form, k))
        self.longest = max((len(f) for f in all_forms), default=0)

    def __bool__(self) -> bool:
        return bool(self._short or self._anchors)

    def spans(self, data: bytes) -> list[tuple[int, int]]:
        """Where secrets are in data: sorted, merged [start, end) ranges."""
        found: list[tuple[int, int]] = []
        for form in self._short:
            i = data.find(form)
            while i >= 0:
                found.append((i, i + len(form)))
                i = data.find(form, i + 1)
        for anchor, places in self._anchors.items():
            i = data.find(anchor)
            while i >= 0:
                for form, k in places:
                    start, end = _extent(data, i, form, k)
                    if end - start >= FRAGMENT:
                        found.append((start, end))
                i = data.find(anchor, i + 1)
        return _merge([_whole_escapes(data, s, e) for s, e in found])

    def scrub(self, data: bytes) -> bytes:
        if not self:
            return data
        return _redact(data, self.spans(data))

    def text(self, value: str) -> str:
        if not self:
            return value
        raw = value.encode()
        spans = self.spans(raw)
        return _redact(raw, spans).decode("utf-8", "replace") if spans else value


class StreamScrubber:
    """Scrubs a byte stream that arrives in arbitrary pieces: holds back an incomplete server-sent event (so a
    key torn across two reads is still seen whole), at most `max_pending` bytes of one."""

    TERMINATORS = (b"\n\n", b"\r\n\r\n", b"\r\r")

    def __init__(self, scrubber: Scrubber, max_pending: int = 65536) -> None:
        self._s = scrubber
        self._buf = b""
        self._max = max(max_pending, scrubber.longest)

    def feed(self, chunk: bytes) -> bytes:
        if not self._s:
            return chunk
        buf = self._buf + chunk
        cut = max((buf.rfind(t) + len(t) for t in self.TERMINATORS if buf.rfind(t) >= 0), default=0)
        if cut == 0 and len(buf) > self._max:
            cut = len(buf) - self._s.longest  # no event end in sight: a secret can only hide in the tail
        if cut == 0:
            self._buf = buf
            return b""
        spans = self._s.spans(buf)
        cut = min([cut] + [s for s, e in spans if s < cut < e])  # never emit half of a match
        self._buf = buf[cut:]
        return _redact(buf[:cut], [(s, e) for s, e in spans if e <= cut])

    def flush(self) -> bytes:
        rest, self._buf = self._buf, b""
        return self._s.scrub(rest)


def _extent(data: bytes, i: int, form: bytes, k: int) -> tuple[int, int]:
    """The run around data[i:i+ANCHOR] that matches form around form[k:k+ANCHOR]."""
    start, f = i, k
    while start > 0 and f > 0 and data[start - 1] == form[f - 1]:
        start, f = start - 1, f - 1
    end, f = i + ANCHOR, k + ANCHOR
    while end < len(data) and f < len(form) and data[end] == form[f]:
        end, f = end + 1, f + 1
    return start, end


def _whole_escapes(data: bytes, start: int, end: int) -> tuple[int, int]:
    """Widens a span so no JSON escape is cut in half (a dangling backslash would break the JSON around it)."""
    if _escaping(data, start - 1):
        start -= 1
    if end < len(data) and _escaping(data, end - 1):
        end += 5 if data[end : end + 1] == b"u" else 1
    return start, min(end, len(data))


def _escaping(data: bytes, i: int) -> bool:
    """True when data[i] is a backslash that escapes the next byte (an odd run of backslashes ends there)."""
    n = 0
    while i - n >= 0 and data[i - n] == 0x5C:
        n += 1
    return n % 2 == 1


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _redact(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    if not spans:
        return data
    parts, pos = [], 0
    for s, e in spans:
        parts += [data[pos:s], REDACTED]
        pos = e
    parts.append(data[pos:])
    return b"".join(parts)
