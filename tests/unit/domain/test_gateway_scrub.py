"""The secret scrubber as a pure function: what an upstream says loses every configured secret (no Flask)."""

from __future__ import annotations

import json
import random
import re
from urllib.parse import quote, quote_plus

from app.domain.gateway.scrub import FRAGMENT, REDACTED, Scrubber, StreamScrubber

KEY = "sk-proj-Ab3/dE+fG9=hIjK/lMnO+pQrStUvWxYz0123456789"
TOKEN = "pas-token-0123456789abcdef"
S = Scrubber([KEY, TOKEN])


def test_every_form_of_a_secret_is_redacted() -> None:
    for form in (KEY, f"Bearer {KEY}", quote(KEY, safe=""), re.sub("%..", lambda m: m[0].lower(), quote(KEY, safe="")),
                 quote_plus(KEY), json.dumps(KEY)[1:-1].replace("/", "\\/"), TOKEN):  # fmt: skip
        text = f"Incorrect API key provided: {form}. Check it."
        out = S.text(text)
        assert out == "Incorrect API key provided: " + ("Bearer " if "Bearer" in form else "") + "[REDACTED]. Check it."
        for i in range(len(KEY) - FRAGMENT + 1):
            assert KEY[i : i + FRAGMENT] not in out


def test_a_json_body_stays_json() -> None:
    body = json.dumps({"error": {"message": f"bad key {KEY}", "url": f"https://x/?key={quote(KEY, safe='')}"}})
    escaped = body.replace("/", "\\/").encode()
    for raw in (body.encode(), escaped):
        out = S.scrub(raw)
        parsed = json.loads(out)
        assert KEY not in json.dumps(parsed) and "[REDACTED]" in parsed["error"]["message"]


def test_long_runs_go_short_masks_stay() -> None:
    assert S.text(f"prefix {KEY[:FRAGMENT]} only") == "prefix [REDACTED] only"
    assert S.text(f"tail {KEY[-20:]}!") == "tail [REDACTED]!"
    masked = f"{KEY[:5]}...{KEY[-4:]}"  # how vendors mask a key: readable, not secret
    assert S.text(f"Incorrect API key provided: {masked}") == f"Incorrect API key provided: {masked}"
    assert S.text("hello from the mock") == "hello from the mock"


def test_nothing_configured_changes_nothing() -> None:
    empty = Scrubber([])
    assert not empty and empty.scrub(b"sk-anything") == b"sk-anything"
    assert not Scrubber(["abc"])  # too short to be a secret: never corrupt every answer for it


def test_a_stream_torn_anywhere_is_scrubbed() -> None:
    event = b"data: " + json.dumps({"error": {"message": f"Incorrect API key provided: Bearer {KEY}"}}).encode()
    stream = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n' + event + b"\n\ndata: [DONE]\n\n"
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 12)))
        pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        ss = StreamScrubber(S)
        out = b"".join(ss.feed(p) for p in pieces) + ss.flush()
        assert out == S.scrub(stream) and KEY.encode()[:FRAGMENT] not in out


def test_complete_events_pass_at_once() -> None:
    ss = StreamScrubber(S)
    assert ss.feed(b'data: {"a":1}\n\ndata: {"b"') == b'data: {"a":1}\n\n'  # the whole event, nothing held back
    assert ss.feed(b":2}\n\n") == b'data: {"b":2}\n\n'


def test_a_stream_without_event_ends_is_bounded() -> None:
    ss = StreamScrubber(S, max_pending=100)
    out = ss.feed(b"x" * 500 + KEY.encode()[:10])
    assert len(out) >= 500 - S.longest and not out.endswith(KEY.encode()[:10])
    out += ss.feed(KEY.encode()[10:] + b" and more") + ss.flush()
    assert KEY.encode() not in out and REDACTED in out
