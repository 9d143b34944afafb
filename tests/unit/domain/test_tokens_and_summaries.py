"""Token counts say whether they are exact; summaries are extractive and files are never overwritten."""

from __future__ import annotations

from pathlib import Path

from app.domain.token_governor.service import breach_request_id, classify, summary_file
from app.domain.token_governor.summarizer import extractive_summary
from app.domain.token_governor.tokens import count_messages, count_text


def test_openai_models_count_exactly_others_estimate() -> None:
    exact = count_text("Hello world, this is a test of the tokenizer.", "gpt-4o")
    assert exact.exact and exact.method == "bpe-openai:o200k_base" and exact.tokens == 11
    est = count_text("x" * 40, "claude-sonnet-4-5")
    assert not est.exact and est.tokens == 10 and est.method == "estimate:chars/4"
    msgs = count_messages([{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"text": "yo"}]}],
                          "gpt-3.5-turbo")  # fmt: skip
    assert msgs.exact and msgs.tokens == 2 + 3 * 3


def test_thresholds() -> None:
    assert classify(0.25, 0.5, 0.75) == ("ok", None)
    assert classify(0.625, 0.5, 0.75) == ("warning", "monitor_closely")
    assert classify(0.75, 0.5, 0.75) == ("breach", "save_state_clear_resume")


def test_summary_files_are_never_overwritten(tmp_path: Path) -> None:
    names = [summary_file(tmp_path, "../../etc/passwd").name for _ in range(3)]
    assert names == [".._.._etc_passwd_summary.md", ".._.._etc_passwd_summary-2.md", ".._.._etc_passwd_summary-3.md"]
    assert all(p.parent == tmp_path for p in tmp_path.iterdir())


def test_extractive_summary_keeps_the_weighty_and_the_last_sentence() -> None:
    text = ("The heartbeat monitor sweeps deadlines on the Redis clock. Lunch was nice today. "
            "The monitor marks a service down after two missed heartbeats. Finally we shipped the sweep.")  # fmt: skip
    out = extractive_summary(text, max_sentences=2)
    assert "monitor" in out and out.rstrip().endswith("Finally we shipped the sweep.")


def test_one_request_id_per_breach() -> None:
    assert breach_request_id("a", "r", 1) == breach_request_id("a", "r", 1) != breach_request_id("a", "r", 2)
