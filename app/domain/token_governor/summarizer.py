"""Summaries of an agent's context. Extractive for now (and whenever no model is reachable): the sentences that
carry the most of the conversation's frequent words, in their original order."""

from __future__ import annotations

import re
from collections import Counter

SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'-]{2,}")
_STOP_WORDS = """the and for that with this from are was were have has had not but you your our their they them then
than into onto over also just will would can could should there here what when where which who how its it's
been being about more most some such only very"""
STOP = frozenset(_STOP_WORDS.split())


def extractive_summary(text: str, max_sentences: int = 12, max_chars: int = 4000) -> str:
    sentences = [s.strip() for s in SENTENCE.split(text) if len(s.strip()) > 20]
    if not sentences:
        return text.strip()[:max_chars]
    freq = Counter(w.lower() for w in WORD.findall(text) if w.lower() not in STOP)
    if not freq:
        return " ".join(sentences[:max_sentences])[:max_chars]

    def score(sentence: str) -> float:
        words = [w.lower() for w in WORD.findall(sentence) if w.lower() not in STOP]
        return sum(freq[w] for w in words) / (len(words) ** 0.5) if words else 0.0

    ranked = sorted(range(len(sentences)), key=lambda i: score(sentences[i]), reverse=True)[:max_sentences]
    # Always keep the last sentence: the most recent state of the work.
    chosen = sorted(set(ranked) | {len(sentences) - 1})
    out, size = [], 0
    for i in chosen:
        if size + len(sentences[i]) > max_chars:
            break
        out.append(sentences[i])
        size += len(sentences[i]) + 1
    return "\n".join(f"- {s}" for s in out)
