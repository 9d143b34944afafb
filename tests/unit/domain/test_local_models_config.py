"""The shipped local models (config/models.json) are the contract's (API-CONTRACT §12), and the tiny test model
is what it says it is."""

from __future__ import annotations

import json
from pathlib import Path

from app.domain.local_models.catalogue import find_file, load_models, missing_reason
from app.domain.local_models.tiny import TINY_NAME, write_tiny_gguf
from app.providers.llama_engine import LlamaEngine, label_grammar, softmax
from config.ports import BY_PORT
from config.settings import ROOT


def test_the_shipped_models_are_the_contracts() -> None:
    models = load_models(ROOT / "config" / "models.json")
    assert {(m.name, m.port) for m in models.values()} == {
        ("llm_llama31_8b", 8050), ("llm_tinyllama_1b", 8051), ("tlc_domain_classifier", 8052)}  # fmt: skip
    assert {"reasoning", "planning", "code_review", "explanation", "general_completion"} <= set(
        models["llm_llama31_8b"].capabilities
    )
    assert {"classification", "tagging", "extraction", "filtering", "simple_completion"} <= set(
        models["llm_tinyllama_1b"].capabilities
    )
    assert {"domain_classification", "tmd_extraction", "domain_validation", "classify_light"} <= set(
        models["tlc_domain_classifier"].capabilities
    )
    assert all(m.price_per_token == 0 and BY_PORT[m.port].name == m.name for m in models.values())
    labels = json.loads((ROOT / "config" / "domains.l0.json").read_text())
    assert len(labels["domains"]) == len(set(labels["domains"])) == 16
    assert labels["methods"] == ["DENSE", "SPARSE", "HYBRID", "GRAPH"]


def test_a_file_is_found_under_its_name_then_the_configured_file_then_fallbacks(tmp_path: Path) -> None:
    tlc = load_models(ROOT / "config" / "models.json")["tlc_domain_classifier"]
    assert find_file(tlc, tmp_path) is None
    assert "tlc_domain_classifier.gguf" in missing_reason(tlc, tmp_path) and str(tmp_path) in missing_reason(
        tlc, tmp_path
    )
    (tmp_path / "llm_tinyllama_1b.gguf").write_bytes(b"x")  # on TinyLlama by default
    assert find_file(tlc, tmp_path) == tmp_path / "llm_tinyllama_1b.gguf"
    (tmp_path / "tlc_domain_classifier.gguf").write_bytes(b"x")
    assert find_file(tlc, tmp_path) == tmp_path / "tlc_domain_classifier.gguf"


def test_the_tiny_model_is_deterministic_loads_and_scores_labels(tmp_path: Path) -> None:
    a, b = write_tiny_gguf(tmp_path / "a.gguf"), write_tiny_gguf(tmp_path / "b.gguf")
    assert a.read_bytes() == b.read_bytes()
    cfg = load_models(ROOT / "config" / "models.json")["tlc_domain_classifier"].model_copy(
        update={"context_length": 256}
    )
    engine = LlamaEngine(a, cfg)
    assert engine.metadata["general.name"] == TINY_NAME
    labels = ["science", "law", "arts"]
    text: list[str] = []
    engine.complete("Query: x\nDomain:", {"temperature": 0, "max_tokens": 16}, label_grammar(labels), text.append,
                    lambda: False)  # fmt: skip
    assert "".join(text).strip() in labels  # the grammar allows nothing else
    conf = softmax(engine.score_labels("Query: x\nDomain:", labels))
    assert set(conf) == set(labels) and abs(sum(conf.values()) - 1) < 1e-9


def test_gpu_memory_is_reserved_only_for_offloaded_layers_on_a_host_with_a_gpu() -> None:
    from app.domain.local_models.catalogue import gpu_share

    m = load_models(ROOT / "config" / "models.json")["llm_llama31_8b"]
    size = 4_920 * 1024 * 1024
    assert gpu_share(m, size, gpus=1, gpu_mem_mb=24_000) == (0, 0)  # gpu_layers 0: CPU only
    assert gpu_share(m.model_copy(update={"gpu_layers": -1}), size, gpus=0, gpu_mem_mb=0) == (0, 0)  # no GPU here
    assert gpu_share(m.model_copy(update={"gpu_layers": -1}), size, gpus=1, gpu_mem_mb=24_000) == (1, 5412)
    assert gpu_share(m.model_copy(update={"gpu_layers": 16}), size, gpus=2, gpu_mem_mb=24_000) == (1, 2706)
