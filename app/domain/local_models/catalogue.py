"""The local models PAS knows (config/models.json), where each one's GGUF file is, and what a file really is."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.models import ModelConfig, ModelsFile


def load_models(path: Path) -> dict[str, ModelConfig]:
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    raw.pop("_comment", None)
    return {m.name: m for m in ModelsFile.model_validate(raw).models}


def find_file(model: ModelConfig, models_dir: Path) -> Path | None:
    """`<name>.gguf` (what `pas models add` links), then the configured file, then its fallbacks."""
    for candidate in (f"{model.name}.gguf", model.file, *model.fallback_files):
        path = models_dir / candidate
        if path.is_file():
            return path
    return None


def missing_reason(model: ModelConfig, models_dir: Path) -> str:
    return (
        f"model file {model.file} not found in {models_dir}: put a GGUF file there, or link one in with "
        f"`pas models add PATH --as {model.name}` (`pas models tiny DIR` writes a small test model)"
    )


@dataclass(frozen=True)
class FileFacts:
    """What the GGUF file says about itself, whatever name it was linked in under."""

    path: str
    file_bytes: int
    name: str | None
    architecture: str | None
    context_length: int | None
    vocab_size: int | None
    parameters: int | None
    quantization: str | None


_FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
               12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
               32: "BF16"}  # fmt: skip


def file_facts(path: Path, metadata: dict[str, Any], n_params: int | None, n_vocab: int | None) -> FileFacts:
    """From llama.cpp's view of the loaded file (metadata strings as llama-cpp-python gives them)."""
    arch = metadata.get("general.architecture")
    ctx = metadata.get(f"{arch}.context_length") if arch else None
    ftype = metadata.get("general.file_type")
    return FileFacts(
        path=str(path),
        file_bytes=path.stat().st_size,
        name=metadata.get("general.name"),
        architecture=arch,
        context_length=int(ctx) if ctx is not None and str(ctx).isdigit() else None,
        vocab_size=n_vocab,
        parameters=n_params,
        quantization=_FILE_TYPES.get(int(ftype)) if ftype is not None and str(ftype).isdigit() else None,
    )


def gpu_share(model: ModelConfig, file_bytes: int, gpus: float, gpu_mem_mb: float) -> tuple[int, int]:
    """(gpus, gpu_mem_mb) to reserve: none when the model offloads no layers or this host has no GPU (pynvml
    found none); else one GPU and the weights' size (all layers, -1) or a share of it (n layers of a typical 32)."""
    if model.gpu_layers == 0 or gpus < 1:
        return 0, 0
    weights_mb = file_bytes / (1024 * 1024)
    share = 1.0 if model.gpu_layers < 0 else min(1.0, model.gpu_layers / 32)
    return 1, int(min(gpu_mem_mb, weights_mb * share * 1.1) + 0.5)
