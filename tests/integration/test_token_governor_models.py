"""The token governor's summaries written by a loaded local model: the tiny GGUF model (generated here, it writes
nonsense: the mechanism is what is tested) hosted by a real model worker, asked through its queue by the summarize
task in the ordinary worker, on a breach and on /summarize."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from app.cli import model_worker_argv
from app.domain.local_models.tiny import write_tiny_gguf
from config.settings import Settings
from tests.integration.conftest import Live, serve_live
from tests.support import port_offset_with_free_ports, wait_until

TINY = "llm_tinyllama_1b"


@pytest.fixture(scope="module")
def summary_live(make_settings: Callable[..., Settings], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("summary-models")
    models_dir = root / "models"
    models_dir.mkdir()
    # Only TinyLlama is linked in: llama-3.1-8b (first in config order) is skipped, not loaded.
    (models_dir / f"{TINY}.gguf").symlink_to(write_tiny_gguf(root / "files" / "pas-tiny.gguf"))
    settings = make_settings(
        pas_port_offset=port_offset_with_free_ports(),
        pas_models_dir=models_dir,
        pas_artifacts_dir=root / "artifacts",
        pas_docs_dir=root / "artifacts" / "docs" / "runs",
    )
    workers = [(f"model-{TINY}", model_worker_argv(TINY))]
    with serve_live(settings, root / "artifacts", worker_concurrency=2, extra_workers=workers) as live:
        health = lambda: requests.get(live.url("models/tinyllama-1b", "/health"), timeout=5).json()  # noqa: E731
        wait_until(lambda: health()["status"] == "healthy", 60, 0.2, "the tiny model loaded")
        yield live


# Long enough that the conversation is cut to TinyLlama's 2048-token context (a token per byte here).
CONVERSATION = [
    {"role": "user", "content": "Goal: add model summaries to the token governor. " * 20},
    {"role": "assistant", "content": "Decision: ask the first loaded model with the summarize capability. " * 40},
    {"role": "user", "content": "State: tests pass. Next: write the README paragraph."},
]

TEXT = "\n".join(f"{m['role']}: {m['content']}" for m in CONVERSATION)


def _summaries(live: Live, agent: str) -> list[dict]:
    r = requests.get(live.url("token-governor", "/summaries"), params={"agent": agent}, timeout=5)
    return r.json()["summaries"]


def test_a_breach_is_summarized_by_the_loaded_model(summary_live: Live) -> None:
    track = {"agent": "sm-a", "run_id": "sm-1", "ctx_used": 900, "ctx_limit": 1000, "messages": CONVERSATION}
    r = requests.post(summary_live.url("token-governor", "/track"), json=track, timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "breach", r.text
    wait_until(lambda: len(_summaries(summary_live, "sm-a")) == 1, 60, 0.2, "the breach's summary")
    s = _summaries(summary_live, "sm-a")[0]
    assert s["method"] == "model" and s["model"] == TINY, s
    text = Path(s["summary_path"]).read_text()
    assert f"- method: model:{TINY}\n" in text
    body = text.split("## Resume from here\n\n", 1)[1]
    assert body.strip() and "Goal: add model summaries" not in body  # the model's words, not extracted sentences
    resume = requests.get(summary_live.url("token-governor", "/resume"), params={"agent": "sm-a", "run_id": "sm-1"},
                          timeout=5)  # fmt: skip
    assert resume.status_code == 200 and f"model:{TINY}" in resume.json()["context"]


def test_summarize_answers_with_the_model_summary(summary_live: Live) -> None:
    tg = lambda p: summary_live.url("token-governor", p)  # noqa: E731
    track = {"agent": "sm-b", "run_id": "sm-2", "ctx_used": 100, "ctx_limit": 1000}
    assert requests.post(tg("/track"), json=track, timeout=5).status_code == 200
    s = requests.post(tg("/summarize"), json={"agent": "sm-b", "run_id": "sm-2", "trigger_reason": "manual",
                                              "content_to_summarize": TEXT},
                      timeout=40)  # fmt: skip
    assert s.status_code == 200, s.text
    assert s.json()["method"] == "model" and s.json()["model"] == TINY
    assert f"- method: model:{TINY}" in Path(s.json()["summary_path"]).read_text()
