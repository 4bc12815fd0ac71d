"""Labelled utterances and the figures `hotline kb eval` prints: top-1 accuracy, false accepts, latency."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from kb.matcher import Matcher

EVAL_FILE = Path(__file__).with_name("eval") / "utterances.yaml"
# Out-of-scope phrases written from a short brief of what the city does, by an author who saw neither the KB
# nor the other sets: never used to fit anything, reported apart.
INDEPENDENT_FILE = Path(__file__).with_name("eval") / "independent_out_of_scope.yaml"
INDEPENDENT_TAG = "independent"


@dataclass(frozen=True)
class Utterance:
    text: str
    expected: str | None  # None: out of scope, the right answer is "no match"
    tags: tuple[str, ...]

    @property
    def split(self) -> str:
        """A fixed half of the set fits the calibration; the other half is held out to report on."""
        return "calibration" if zlib.crc32(self.text.encode("utf-8")) % 2 == 0 else "held-out"


def load_utterances(path: Path = EVAL_FILE) -> list[Utterance]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of utterances")
    items = []
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ValueError(f"{path}: item {index} needs a 'text' string")
        items.append(Utterance(item["text"], item.get("expected"), tuple(item.get("tags") or ())))
    return items


def load_independent_out_of_scope(path: Path = INDEPENDENT_FILE) -> list[Utterance]:
    """The independent set's phrases as out-of-scope utterances, tagged with their group."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups = raw.get("groups") if isinstance(raw, dict) else None
    if not isinstance(groups, list):
        raise ValueError(f"{path}: expected 'groups:', a list of {{name, examples}}")
    items = []
    for index, group in enumerate(groups, start=1):
        if not isinstance(group, dict) or not isinstance(group.get("name"), str):
            raise ValueError(f"{path}: group {index} needs a 'name'")
        examples = group.get("examples")
        if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
            raise ValueError(f"{path}: group {group['name']} needs 'examples', a list of strings")
        items += [Utterance(e, None, ("out_of_scope", INDEPENDENT_TAG, group["name"])) for e in examples]
    return items


@dataclass(frozen=True)
class Outcome:
    utterance: Utterance
    predicted: str | None
    score: float
    seconds: float

    @property
    def correct(self) -> bool:
        return self.predicted == self.utterance.expected


@dataclass(frozen=True)
class Report:
    """Top-1 accuracy counts a "no match" on an in-scope utterance as wrong."""

    in_scope: int
    top1_correct: int
    out_of_scope: int
    false_accepts: int
    p50_ms: float
    p99_ms: float

    @property
    def top1(self) -> float:
        return self.top1_correct / self.in_scope if self.in_scope else 0.0

    @property
    def false_accept_rate(self) -> float:
        return self.false_accepts / self.out_of_scope if self.out_of_scope else 0.0


def run(matcher: Matcher, utterances: Iterable[Utterance]) -> list[Outcome]:
    outcomes = []
    for u in utterances:
        start = time.perf_counter()
        result = matcher.match(u.text)
        outcomes.append(Outcome(u, result.faq_id, result.score, time.perf_counter() - start))
    return outcomes


def summarise(outcomes: list[Outcome]) -> Report:
    in_scope = [o for o in outcomes if o.utterance.expected is not None]
    out_scope = [o for o in outcomes if o.utterance.expected is None]
    latencies = np.array([o.seconds for o in outcomes]) * 1000 if outcomes else np.zeros(1)
    return Report(
        in_scope=len(in_scope),
        top1_correct=sum(o.correct for o in in_scope),
        out_of_scope=len(out_scope),
        false_accepts=sum(o.predicted is not None for o in out_scope),
        p50_ms=float(np.percentile(latencies, 50)),
        p99_ms=float(np.percentile(latencies, 99)),
    )
