"""`pas models tiny DIR`: one small deterministic GGUF file (llama architecture, byte-level vocabulary, random
weights from a fixed seed) for smoke tests. It loads in llama-cpp-python in milliseconds and generates nonsense:
it checks a deployment end to end (load, generate, stream, classify) without downloading gigabytes."""

from __future__ import annotations

from pathlib import Path

TINY_NAME = "pas-tiny-llama"
# ChatML: a chat template inside the file, so llama-cpp-python formats chats the way it would for a real model.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def write_tiny_gguf(path: Path, *, seed: int = 1234, n_embd: int = 64, n_layer: int = 2, n_ctx: int = 2048) -> Path:
    import gguf
    import numpy as np

    n_head, n_ff = 4, 128
    rng = np.random.default_rng(seed)
    # Vocabulary: <unk> <s> </s>, the two ChatML markers, then the 256 bytes (SentencePiece byte fallback), then
    # the printable ASCII characters as whole tokens ('▁' is the space), so text decodes and round-trips.
    tokens: list[bytes] = [b"<unk>", b"<s>", b"</s>", b"<|im_start|>", b"<|im_end|>"]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL,
             gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]  # fmt: skip
    tokens += [f"<0x{b:02X}>".encode() for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    printable = ["\u2581"] + [chr(c) for c in range(33, 127)]
    tokens += [c.encode() for c in printable]
    types += [gguf.TokenType.NORMAL] * len(printable)
    scores = [0.0] * 261 + [-float(i) for i in range(len(printable))]
    n_vocab = len(tokens)

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(TINY_NAME)
    w.add_description("PAS's tiny smoke-test model: random weights, generates nonsense")
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(4)  # <|im_end|> ends a ChatML turn
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_chat_template(CHAT_TEMPLATE)

    def t(name: str, *shape: int, scale: float = 0.08) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    t("token_embd.weight", n_vocab, n_embd, scale=0.3)
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    t("output.weight", n_vocab, n_embd, scale=0.3)
    for i in range(n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            t(f"blk.{i}.{name}.weight", n_embd, n_embd)
        t(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
        t(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
        t(f"blk.{i}.ffn_down.weight", n_embd, n_ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
