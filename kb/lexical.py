"""The lexical score: IDF-weighted overlap of word stems, with rapidfuzz mending misheard words.

Each entry's question variants and title are documents; its keywords and synonyms are short documents too.
A query's score for an entry is the best weighted Dice coefficient over the entry's documents.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from kb.normalize import content_words, normalize, stem

# A word not in the KB vocabulary is mended to the closest KB word at this rapidfuzz ratio or above:
# high enough that "passepor" meets "passeport" but "cave" does not become "carte".
FUZZY_MIN_RATIO = 84
# Short words are too ambiguous to mend ("eau" / "peau").
FUZZY_MIN_LENGTH = 5


@dataclass(frozen=True)
class LexicalDoc:
    entry_index: int
    stems: frozenset[str]
    keyword: bool  # a keyword or synonym phrase rather than a whole question


@dataclass(frozen=True)
class EntryTexts:
    """What the lexical index reads of one entry."""

    sentences: list[str]  # question variants and title
    keywords: list[str]  # keywords and synonyms


class LexicalIndex:
    """An inverted index of stems over the KB documents."""

    def __init__(self, entries: list[EntryTexts]) -> None:
        self.entry_count = len(entries)
        docs: list[LexicalDoc] = []
        surface: dict[str, str] = {}
        entry_stems: list[set[str]] = []
        for entry_index, texts in enumerate(entries):
            stems_of_entry: set[str] = set()
            tagged = [(t, False) for t in texts.sentences] + [(t, True) for t in texts.keywords]
            for text, is_keyword in tagged:
                words = content_words(normalize(text))
                for word in words:
                    surface.setdefault(word, stem(word))
                stems = frozenset(stem(w) for w in words)
                if stems:
                    docs.append(LexicalDoc(entry_index, stems, is_keyword))
                    stems_of_entry |= stems
            entry_stems.append(stems_of_entry)
        self.target_stems = [frozenset(stems) for stems in entry_stems]  # each entry's (or group's) vocabulary
        document_frequency: dict[str, int] = defaultdict(int)
        for stems_of_entry in entry_stems:
            for s in stems_of_entry:
                document_frequency[s] += 1
        # IDF over entries, so that a word shared by many topics ("mairie") weighs little.
        self.idf = {s: math.log(1 + self.entry_count / df) for s, df in document_frequency.items()}
        self.unknown_idf = math.log(1 + self.entry_count)
        self.docs = docs
        self.doc_weight = [sum(self.idf[s] for s in d.stems) for d in docs]
        self.postings: dict[str, list[int]] = defaultdict(list)
        for doc_index, doc in enumerate(docs):
            for s in doc.stems:
                self.postings[s].append(doc_index)
        self._surface_words = list(surface)
        self._surface_stem = surface

    def query_stems(self, normalized: str) -> dict[str, float]:
        """The query's stems with their weights; unknown words are mended with rapidfuzz when close."""
        weights: dict[str, float] = {}
        for word in content_words(normalized):
            s = stem(word)
            if s not in self.idf and len(word) >= FUZZY_MIN_LENGTH:
                best = process.extractOne(word, self._surface_words, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN_RATIO)
                if best is not None:
                    s = self._surface_stem[best[0]]
            weights[s] = self.idf.get(s, self.unknown_idf)
        return weights

    def scores(
        self, normalized: str, weights: dict[str, float] | None = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Per entry: the best weighted Dice coefficient between the query and one of its documents, and
        the best share of one of its keyword phrases that the query contains. `weights`: the query's stems,
        when the caller has them already (`query_stems`)."""
        result = np.zeros(self.entry_count, dtype=np.float32)
        keyword = np.zeros(self.entry_count, dtype=np.float32)
        if weights is None:
            weights = self.query_stems(normalized)
        if not weights:
            return result, keyword
        query_weight = sum(weights.values())
        shared: dict[int, float] = defaultdict(float)
        for s, w in weights.items():
            for doc_index in self.postings.get(s, ()):
                shared[doc_index] += w
        for doc_index, common in shared.items():
            dice = 2 * common / (query_weight + self.doc_weight[doc_index])
            doc = self.docs[doc_index]
            if dice > result[doc.entry_index]:
                result[doc.entry_index] = dice
            if doc.keyword:
                covered = common / self.doc_weight[doc_index]
                if covered > keyword[doc.entry_index]:
                    keyword[doc.entry_index] = covered
        return result, keyword
