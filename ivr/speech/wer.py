"""Word error rate, for accuracy tests and benchmarks of the recognisers."""

from __future__ import annotations

import re
from collections.abc import Iterable

_PUNCTUATION_RE = re.compile(r"[^\w'’-]+")


def words(text: str) -> list[str]:
    """Lower-cased words without punctuation (accents kept: "valid" is not "valide")."""
    return _PUNCTUATION_RE.sub(" ", text.lower().replace("’", "'")).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words: substitutions + deletions + insertions."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        prev_diag, row[0] = row[0], i
        for j, h in enumerate(hyp, start=1):
            prev_diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev_diag + (r != h))
    return row[-1]


def wer(pairs: Iterable[tuple[str, str]]) -> float:
    """Corpus WER of (reference, hypothesis) pairs: total word errors over total reference words."""
    errors = total = 0
    for ref, hyp in pairs:
        ref_words = words(ref)
        errors += edit_distance(ref_words, words(hyp))
        total += len(ref_words)
    return errors / total if total else 0.0
