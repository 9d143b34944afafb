"""The tree's "models" branch in real Chromium against the live app (issue 12): local models and vendor adapters
grouped by provider, a degraded model's reason (HTML in it) rendered as text, and status changes live from the
registry's status_update events — a heartbeat's degraded and ok, the monitor's down."""

from __future__ import annotations

from typing import Any

import requests

from tests.integration.conftest import Live
from tests.integration.test_hmi_models import EVIL_REASON, local_model, vendor_model
from tests.integration.test_hmi_pages import page, shot  # noqa: F401 (the page fixture)


def register(live: Live, body: dict[str, Any]) -> None:
    r = requests.post(live.url(None, "/api/registry/register"), json=body, timeout=5)
    assert r.status_code in (200, 201), r.text


def beat(live: Live, service_id: str, status: str, message: str | None = None) -> None:
    body = {"service_id": service_id, "status": status, **({"message": message} if message is not None else {})}
    r = requests.put(live.url(None, "/api/registry/heartbeat"), json=body, timeout=5)
    assert r.status_code == 200, r.text


def model_sel(service_id: str) -> str:
    return f'g.node.model[data-id="{service_id}"]'


def test_tree_models_branch_renders_status_and_reason_inertly_and_live(live: Live, page: Any) -> None:  # noqa: F811
    # Ids of its own: the live session's beat reports PAS's real local models (no file here) degraded itself.
    register(live, local_model("hmi_llama31_8b", "llama-3.1-8b-instruct", ["reasoning", "planning"],
                               missing="llama-3.1-8b.gguf"))  # fmt: skip
    register(live, local_model("hmi_tinyllama_1b", "tinyllama-1.1b-chat", ["classification", "tagging"],
                               file="llm_tinyllama_1b.gguf", file_model="pas-tiny", host="h1"))  # fmt: skip
    register(live, local_model("hmi_tlc_classifier", "tinyllama-1.1b-chat", ["domain_classification",
                                                                                 "classify_light"]))  # fmt: skip
    register(live, vendor_model("openai", "gpt-4-turbo"))
    register(live, vendor_model("anthropic", "claude-sonnet-4-5-20250929"))
    beat(live, "hmi_llama31_8b", "degraded", "model file llama-3.1-8b.gguf not found in artifacts/models/")
    beat(live, "hmi_tlc_classifier", "degraded", EVIL_REASON)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(live.url(None, "/tree"))
    page.wait_for_selector("#conn.on", timeout=10_000)
    page.wait_for_selector('g.node.group[data-group="models"]', timeout=10_000)
    # the branch: models → local / anthropic / openai → the models, each linked under its group
    groups = page.eval_on_selector_all("g.node.group", "ns => ns.map(n => n.dataset.group)")
    assert {"models", "models/local", "models/openai", "models/anthropic"} <= set(groups)
    assert page.query_selector('g.node.group[data-group="models"]').get_attribute("data-id") is None
    tlc = model_sel("hmi_tlc_classifier")
    page.wait_for_selector(f"{tlc}.degraded", timeout=5_000)
    # the reason is the node's text, literally: no element made, nothing run
    assert page.text_content(f"{tlc} text.reason") == EVIL_REASON
    assert page.text_content(f"{tlc} text.meta") == "degraded · local · tinyllama-1.1b-chat"
    assert page.text_content(f"{tlc} text.caps") == "domain_classification, classify_light"
    assert page.text_content(f"{model_sel('hmi_tinyllama_1b')} text.reason") == ""
    assert page.query_selector_all("img") == [] and page.evaluate("window.__xss") is None
    assert "degraded" in (page.get_attribute('g.node.group[data-group="models/local"]', "class") or "")
    page.dispatch_event(f"{tlc} circle", "mousemove")
    tip = page.text_content("#tip") or ""
    assert f"reason: {EVIL_REASON}" in tip and "provider local" in tip and "caps domain_classification" in tip
    page.dispatch_event("svg#tree", "mouseleave")
    # live, without a re-read of the tree: a vendor loses its key (degraded, with why), its group turns too
    gpt = model_sel("openai-gpt-4-turbo")
    assert "ok" in (page.get_attribute(gpt, "class") or "").split()
    beat(live, "openai-gpt-4-turbo", "degraded", "OPENAI_API_KEY is not set")
    page.wait_for_selector(f"{gpt}.degraded", timeout=5_000)
    page.wait_for_selector(f'{gpt} text.reason:has-text("OPENAI_API_KEY is not set")', timeout=5_000)
    page.wait_for_selector('g.node.group.degraded[data-group="models/openai"]', timeout=5_000)
    shot(live, page, "tree-models")
    # ... and gets it back: ok, the reason gone, the group green again
    beat(live, "openai-gpt-4-turbo", "ok")
    page.wait_for_selector(f"{gpt}.ok", timeout=5_000)
    assert page.text_content(f"{gpt} text.reason") == ""
    page.wait_for_selector('g.node.group.ok[data-group="models/openai"]', timeout=5_000)
    # a vendor whose worker stops beating goes down (the monitor's status_update), live
    grok = vendor_model("grok", "grok-beta") | {"heartbeat_interval_s": 1}
    register(live, grok)
    page.wait_for_selector(f"{model_sel('grok-grok-beta')}", timeout=5_000)  # service_registered: a re-read
    page.wait_for_selector(f"{model_sel('grok-grok-beta')}.down", timeout=8_000)
    assert page.query_selector_all("img") == []
