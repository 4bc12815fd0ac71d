"""Dossier numbers: the short number a citizen types on the keypad or reads out to follow up a ticket.

Eight digits: a seven-digit body whose first digit is not 0, then one Damm check digit. The Damm
algorithm catches every single-digit error and every swap of two adjacent digits, the two mistakes
people make most when typing or dictating a number.
"""

from __future__ import annotations

import random
import secrets

BODY_LENGTH = 7  # 9 million bodies: enough for decades of tickets while staying sayable in one breath
DOSSIER_LENGTH = BODY_LENGTH + 1  # body + one check digit
SPEECH_GROUP_SIZE = 2  # French speakers read long numbers in pairs: "douze, trente-quatre, ..."
# A leading 0 gets lost in spreadsheets and when read aloud, so bodies start at 1000000.
FIRST_BODY = 10 ** (BODY_LENGTH - 1)
BODY_LIMIT = 10**BODY_LENGTH
DIGITS = "0123456789"  # explicit: str.isdigit() also accepts "²" and non-Latin digits
# What a caller or agent may put between digits; whitespace (incl. no-break spaces) is accepted too.
SEPARATORS = ".-/"

# The order-10 weakly totally anti-symmetric quasigroup from H. Michael Damm's thesis (2004).
# Row = interim digit, column = next digit of the number.
DAMM_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# One system-wide CSPRNG: a dossier number is a lookup key, so it must not be guessable from the last one.
_SYSTEM_RANDOM = secrets.SystemRandom()


def _damm_interim(digits: str) -> int:
    """Run the Damm table over `digits`; 0 means the digits end in a correct check digit."""
    interim = 0
    for char in digits:
        if char not in DIGITS:
            raise ValueError(f"not a digit: {char!r}")
        interim = DAMM_TABLE[interim][DIGITS.index(char)]
    return interim


def check_digit(body: str) -> str:
    """The Damm check digit of a string of digits (any length)."""
    return DIGITS[_damm_interim(body)]


def normalize(number: str) -> str:
    """`number` without the separators a caller or agent might type ("12 34.56-78" -> "12345678")."""
    return "".join(char for char in number if not (char.isspace() or char in SEPARATORS))


def parse(number: str) -> str | None:
    """The canonical eight-digit form of `number`, or None when it is not a valid dossier number."""
    digits = normalize(number)
    if len(digits) != DOSSIER_LENGTH or any(char not in DIGITS for char in digits):
        return None
    if digits[0] == "0":
        return None
    if _damm_interim(digits) != 0:
        return None
    return digits


def is_valid(number: str) -> bool:
    """Whether `number` (separators allowed) is a well-formed dossier number with a correct check digit."""
    return parse(number) is not None


def new_dossier_number(rng: random.Random | None = None) -> str:
    """A fresh random dossier number (uniqueness is the storage layer's job: it retries on collision)."""
    source = rng if rng is not None else _SYSTEM_RANDOM
    body = str(source.randrange(FIRST_BODY, BODY_LIMIT))
    return body + check_digit(body)


def format_for_speech(number: str) -> str:
    """The number in pairs, as French callers read it: "12345671" -> "12 34 56 71"."""
    digits = parse(number)
    if digits is None:
        raise ValueError(f"not a valid dossier number: {number!r}")
    return " ".join(digits[i : i + SPEECH_GROUP_SIZE] for i in range(0, len(digits), SPEECH_GROUP_SIZE))
