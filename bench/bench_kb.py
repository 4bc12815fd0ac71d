"""`hotline bench kb`: match latency and memory at growing KB sizes. Prints a table; asserts nothing about wall
time."""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass

import numpy as np

from bench.measure import rss_mb
from kb.embeddings import CachedEmbedder, UseEmbedder
from kb.loader import KnowledgeBase
from kb.matcher import Matcher
from kb.schema import Entry

SIZES = (100, 1_000, 10_000)
# Place names make the copies of a question distinct sentences, as a large real KB would have.
_PLACES = (
    "à Aurevault",
    "à Villeroux",
    "à Chaumières",
    "à Fontclaire",
    "aux Trois-Ponts",
    "à Sainte-Aline",
    "à Montbrun-le-Haut",
    "à Saint-Médard",
    "à Lassigny-la-Forêt",
    "à Bréval",
    "au Bourg-d'Orvanne",
    "à Courtenay-les-Vignes",
    "aux Hauts-de-Sorel",
    "à la Gravière",
    "au Faubourg-Saint-Jean",
    "aux Tilleuls",
    "aux Granges-Basses",
    "au Moulin-Rouget",
    "à la Croix-Perrin",
    "au Pré-Fleuri",
    "aux Essarts",
    "pour ma mère",
    "pour mon voisin",
    "pour mon fils",
)


def scaled_kb(kb: KnowledgeBase, variants: int) -> KnowledgeBase:
    """A KB of about `variants` question variants: the real entries, copied with place-specific wording."""
    entries: list[Entry] = []
    count = 0
    copy = 0
    while count < variants:
        for e in kb.entries:
            if count >= variants:
                break
            place = _PLACES[copy % len(_PLACES)]
            suffix = "" if copy == 0 else f" {place} {copy // len(_PLACES) or ''}".rstrip()
            take = min(len(e.questions), variants - count)
            if take < 5:
                count = variants
                break
            questions = tuple(q + suffix for q in e.questions[:take])
            entries.append(e.model_copy(update={"id": f"{e.id}-{copy}" if copy else e.id, "questions": questions}))
            count += take
        copy += 1
    return KnowledgeBase(tuple(entries))


@dataclass(frozen=True)
class Row:
    variants: int
    entries: int
    build_s: float
    memory_mb: float
    p50_ms: float
    p99_ms: float


def model_memory_mb() -> tuple[CachedEmbedder, float]:
    """The sentence encoder, and what loading it and a first sentence cost in RSS."""
    before = rss_mb()
    embedder = CachedEmbedder(UseEmbedder(), None)  # no disk cache: the build time includes embedding
    embedder.encode(["préchauffage"])
    return embedder, rss_mb() - before


def measure(
    kb: KnowledgeBase, queries: list[str], embedder: CachedEmbedder, sizes: tuple[int, ...] = SIZES
) -> list[Row]:
    rows = []
    for size in sizes:
        big = scaled_kb(kb, size)
        gc.collect()
        before = rss_mb()
        start = time.perf_counter()
        matcher = Matcher(big, embedder)
        build = time.perf_counter() - start
        gc.collect()
        memory = rss_mb() - before
        for q in queries[:20]:
            matcher.match(q)  # warm the caches the way a running service has them
        times = []
        for q in queries:
            t = time.perf_counter()
            matcher.match(q)
            times.append((time.perf_counter() - t) * 1000)
        rows.append(
            Row(
                matcher.variant_count,
                len(big.entries),
                build,
                memory,
                float(np.percentile(times, 50)),
                float(np.percentile(times, 99)),
            )
        )
        del matcher
    return rows


def format_table(rows: list[Row], queries: int) -> str:
    lines = [
        f"match latency per utterance ({queries} utterances, embeddings included), one process, one thread",
        f"{'variants':>9}{'entries':>9}{'build s':>9}{'RSS +MB':>9}{'p50 ms':>9}{'p99 ms':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r.variants:>9}{r.entries:>9}{r.build_s:>9.2f}{r.memory_mb:>9.1f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
        )
    return "\n".join(lines)


def time_cli_contract(lines: list[str], cache_dir: str) -> float:
    """Wall time of `hotline kb match --json -` over the lines, model loading included."""
    import subprocess
    import sys

    env = {**os.environ, "XDG_CACHE_HOME": cache_dir}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "hotline.cli", "kb", "match", "--json", "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return time.perf_counter() - start
