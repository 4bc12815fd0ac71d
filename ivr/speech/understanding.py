"""What a recognised turn means for the call flow: a knowledge-base match, a yes/no answer, a request for a person.

Pure and fast (the matcher is a few milliseconds); the listener calls it in its worker thread.
"""

from __future__ import annotations

import re

from ivr.flow.events import SpeechRecognized
from ivr.speech.vocabulary import NO, NO_ALSO, PERSON, PERSON_ALSO, YES, YES_ALSO
from kb.matcher import Matcher
from kb.normalize import strip_accents

_NOT_WORD = re.compile(r"[\W_]+")

# Below the threshold by at most this much, the best entry is offered back: "vous voulez parler de …?".
SUGGESTION_BAND = 0.10
# Unless the scope model gives it less than this: then the hotline says it has no answer (and where to turn)
# rather than asking about an entry the question is not about. Measured on the labelled sets: at 0.05, 6 of
# the 12 in-scope questions the scope model turns down are recovered by the question, and 32 of 256
# independent out-of-scope ones are asked it (147 with no floor).
SUGGESTION_MIN_IN_SCOPE = 0.05


def plain_words(text: str) -> str:
    """Lower case, no accents, apostrophes and punctuation as spaces: 'C'est ça !' -> 'c est ca'."""
    return " ".join(_NOT_WORD.sub(" ", strip_accents(text.lower())).split())


# The closed answers (ivr.speech.vocabulary) as plain words, the form they are looked for in.
_YES = tuple(plain_words(p) for p in (*YES, *YES_ALSO))
_NO = tuple(plain_words(p) for p in (*NO, *NO_ALSO))
_HUMAN = tuple(plain_words(p) for p in (*PERSON, *PERSON_ALSO))


def _says(plain: str, phrases: tuple[str, ...]) -> bool:
    padded = f" {plain} "
    return any(f" {p} " in padded for p in phrases)


def yes_or_no(text: str) -> bool | None:
    """True for a yes, False for a no, None when it is neither or both ("oui… enfin non")."""
    return _yes_or_no(plain_words(text))


def _yes_or_no(plain: str) -> bool | None:
    yes, no = _says(plain, _YES), _says(plain, _NO)
    if yes == no:
        return None
    return yes


def wants_human(text: str) -> bool:
    return _says(plain_words(text), _HUMAN)


def understand(text: str, matcher: Matcher | None, pinned: str | None = None) -> SpeechRecognized:
    """The flow's event for one turn. Without a matcher (yes/no turns) only the closed answers are read.
    `pinned`: crisis mode's pinned entry, which wins when it is close."""
    plain = plain_words(text)
    yes_no, human = _yes_or_no(plain), _says(plain, _HUMAN)
    if matcher is None or not text.strip():
        return SpeechRecognized(text, None, 0.0, (), yes_no=yes_no, wants_human=human)
    result = matcher.match(text, pinned)
    alternatives = tuple(c.faq_id for c in result.alternatives)
    suggestion: str | None = None
    title = ""
    referral = matcher.referrals.get(result.referral) if result.referral else None
    if (
        result.faq_id is None
        and referral is None
        and alternatives
        and result.score >= matcher.calibration.threshold - SUGGESTION_BAND
        and (result.in_scope is None or result.in_scope >= SUGGESTION_MIN_IN_SCOPE)
    ):
        suggestion = alternatives[0]
        entry = matcher.kb.get(suggestion)
        title = entry.title if entry is not None else ""
    return SpeechRecognized(
        text,
        result.faq_id,
        result.score,
        alternatives,
        suggestion=suggestion,
        suggestion_title=title,
        yes_no=yes_no,
        wants_human=human,
        out_of_scope=result.faq_id is None and suggestion is None and (result.out_of_scope or referral is not None),
        referral=referral.id if referral else None,
        referral_says=referral.says if referral else "",
    )
