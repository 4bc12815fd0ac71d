"""French normalisation of what callers say (or what the recogniser heard) before matching.

Steps, in order: lower case and apostrophes; spelled-out acronyms ("c n i" -> "cni"); elisions
("l'eau" -> "l eau"); accents; numbers in words -> digits; punctuation; fillers ("euh", "allô").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer
from text_to_num import alpha2digit

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
_DOTTED = re.compile(r"\b((?:[a-z]\.){2,}[a-z]?)")
# A letter that may be an elided word when ASR drops the apostrophe: "c est", "l eau".
_ELIDABLE = frozenset("cdjlmnst")
_VOWEL_START = re.compile(r"^[aeiouyhéèêàâîôû]")
_ELISION = re.compile(r"\b(l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)'", re.IGNORECASE)
_PUNCT = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")

# Words that carry no meaning in a spoken request; removed everywhere.
FILLERS = frozenset(
    "euh euhh euuh heu heuu hum humm hmm mmh mh bah ben beh bof hein allo alló allô ouais voila".split()
)

# Function words and request formulas: kept in the text, ignored when weighing words for the lexical score.
STOPWORDS = frozenset(
    """
    a au aux avec ce ces cet cette c ca d de des du dans en et est es etre j je tu il elle on nous vous ils
    elles l la le les leur leurs lui m ma mon mes me moi n ne pas plus par pour qu que qui quoi quel quelle
    quels quelles s sa se son ses sur t ta te ton tes toi un une y ou où si sans sous chez comme mais donc
    car ni or ai as avez avons ont suis sommes etes sont fait faire faut peut peux pouvez puis veux voudrais
    voudrait voulais voulez souhaite souhaiterais aimerais savoir sais dire dit bonjour bonsoir madame monsieur
    merci svp plait sil oui non alors bien tres aussi deja encore comment combien quand pourquoi est-ce
    estce c'est cest ici la-bas ah oh bon appelle appel appelais appeler renseignement renseignements
    information informations question demande demander besoin avoir il y ya quelqu quelque chose
    """.split()
)

_stemmer = snowballstemmer.stemmer("french")


def join_spelled_letters(text: str) -> str:
    """Join runs of single spoken letters into one word: "c n i" and "c.n.i." -> "cni"."""
    tokens = _DOTTED.sub(lambda m: m.group(1).replace(".", ""), text).split()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and len(tokens[j]) == 1 and tokens[j].isalpha():
            j += 1
        # "c est", "l eau": a final elidable letter before a vowel belongs to the next word.
        if j - i >= 2 and j < len(tokens) and tokens[j - 1] in _ELIDABLE and _VOWEL_START.match(tokens[j]):
            j -= 1
        run = tokens[i:j]
        if len(run) >= 2 and not set(run) <= {"y", "a", "à"}:  # "il y a" is words, not an acronym
            out.append("".join(run))
            i = j
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out)


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Canonical French form: lower case, no accents, elisions split, digits, no punctuation or fillers."""
    text = text.translate(_APOSTROPHES).lower()
    text = join_spelled_letters(text)
    text = _ELISION.sub(r"\1 ", text)
    text = strip_accents(text)
    text = text.replace("-", " ")
    text = _PUNCT.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    if text:
        text = alpha2digit(text, "fr")
    words = [w for w in text.split() if w not in FILLERS]
    return " ".join(words)


def content_words(normalized: str) -> list[str]:
    """The meaningful words of a normalised text (stop words and formulas left out)."""
    return [w for w in normalized.split() if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball French stem, so that 'poubelles' and 'poubelle' meet."""
    return str(_stemmer.stemWord(word))
