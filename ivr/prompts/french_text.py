"""French text made ready for a speech synthesiser: everything it would misread, written out in words.

`speakable(text)` applies one small rule after another, in a fixed order (each rule leaves words for
the next ones, and the most specific shapes of numbers go first):

1. "n°" → "numéro";
2. phone numbers in pairs, or grouped as written ("03 80 12 34 56", "0 800 123 456");
3. dossier numbers (eight digits) digit by digit;
4. four-digit service numbers in pairs, a pause between them ("le 3939" → "le trente-neuf, trente-neuf");
5. dates ("15/03/2026", "1 janvier");
6. times and opening hours ("8 h 30–17 h 30", "14h", "24 h/24");
7. euros and percentages ("25,50 €", "20 %");
8. ordinals ("1er", "1re", "3e");
9. housing and tram codes ("T1" → "T un");
10. street numbers ("12 bis rue", "3 place");
11. acronyms, read as letters or as a word (a table, then a default);
12. every other number ("3 jours" → "trois jours");
13. tidying: elision ("de une" → "d'une") and spaces.

Punctuation is kept: the synthesiser pauses on it. Pure standard library, no I/O.
Apply it to plain text, before any synthesiser markup is added (markup such as `<speed level="80">`
has digits of its own, which it would spell out).
"""

from __future__ import annotations

import re
from collections.abc import Callable

# ---- French numbers in words (traditional spelling: "vingt et un", "quatre cent cinquante-six")

_UNITS = "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize".split()
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}
MAX_NUMBER = 10**12 - 1  # up to the milliards; longer runs of digits are read digit by digit
_THOUSAND, _MILLION, _BILLION = 10**3, 10**6, 10**9


def _below_100(n: int) -> str:
    if n <= 16:
        return _UNITS[n]
    if n < 20:
        return "dix-" + _UNITS[n - 10]
    tens, unit = divmod(n, 10)
    if tens == 7:  # counted from soixante: soixante-dix, soixante et onze, soixante-douze
        return "soixante" + (" et " if unit == 1 else "-") + _below_100(n - 60)
    if tens == 8:
        return "quatre-vingts" if unit == 0 else "quatre-vingt-" + _UNITS[unit]  # no "et": quatre-vingt-un
    if tens == 9:
        return "quatre-vingt-" + _below_100(n - 80)
    if unit == 0:
        return _TENS[tens]
    return _TENS[tens] + (" et un" if unit == 1 else "-" + _UNITS[unit])


def _below_1000(n: int, *, before_mille: bool = False) -> str:
    """0-999; before "mille" the plural s of "cents" and "quatre-vingts" drops ("deux cent mille")."""
    hundreds, rest = divmod(n, 100)
    words = []
    if hundreds:
        plural = "s" if hundreds > 1 and rest == 0 and not before_mille else ""
        words.append("cent" if hundreds == 1 else f"{_UNITS[hundreds]} cent{plural}")
    if rest or not hundreds:
        tens = _below_100(rest)
        words.append(tens[:-1] if before_mille and tens.endswith("vingts") else tens)
    return " ".join(words)


def number_to_words(n: int) -> str:
    """The French words of 0 ≤ n ≤ MAX_NUMBER: 1500 → "mille cinq cents", 200000000 → "deux cents millions"."""
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"{n} is out of range (0 to {MAX_NUMBER})")
    billions, rest = divmod(n, _BILLION)
    millions, rest = divmod(rest, _MILLION)
    thousands, units = divmod(rest, _THOUSAND)
    words = []
    # Million and milliard are nouns: they take an s, and so does the "cents" before them.
    for count, noun in ((billions, "milliard"), (millions, "million")):
        if count:
            words.append(f"{_below_1000(count)} {noun}{'s' if count > 1 else ''}")
    if thousands:
        words.append("mille" if thousands == 1 else _below_1000(thousands, before_mille=True) + " mille")
    if units or not words:
        words.append(_below_1000(units))
    return " ".join(words)


def cardinal(n: int, *, feminine: bool = False) -> str:
    """number_to_words, with "une" for a feminine noun ("vingt et une heures")."""
    words = number_to_words(n)
    if feminine and (words == "un" or words.endswith((" un", "-un"))):
        return words + "e"
    return words


def ordinal(n: int, *, feminine: bool = False) -> str:
    """1 → "premier"/"première", 3 → "troisième", 21 → "vingt et unième", 80 → "quatre-vingtième"."""
    if n == 1:
        return "première" if feminine else "premier"
    words = number_to_words(n)
    if words.endswith("cinq"):
        return words + "uième"
    if words.endswith("neuf"):
        return words[:-1] + "vième"
    if words.endswith(("vingts", "cents", "millions", "milliards")):  # but "trois" keeps its s
        words = words[:-1]
    if words.endswith("e"):  # quatre, onze, trente, mille
        words = words[:-1]
    return words + "ième"


def digits_to_words(digits: str) -> str:
    """Each digit on its own: "120" → "un deux zéro"."""
    return " ".join(_UNITS[int(digit)] for digit in digits)


def group_to_words(group: str) -> str:
    """A group of digits as written: its leading zeros one by one, then the number ("03" → "zéro trois")."""
    significant = group.lstrip("0")
    zeros = ["zéro"] * (len(group) - len(significant))
    if len(significant) > len(str(MAX_NUMBER)):
        return " ".join([*zeros, digits_to_words(significant)])
    return " ".join([*zeros, number_to_words(int(significant))] if significant else zeros)


# ---- 1. "n°"

# "n°", "N°" and "nº" (the ordinal indicator, which looks the same), before a number or not.
_NUMBER_SIGN = re.compile(r"\b([nN])[°º]\s*")


def spell_number_sign(text: str) -> str:
    return _NUMBER_SIGN.sub(lambda m: ("Numéro" if m[1] == "N" else "numéro") + " ", text)


# ---- 2. Phone numbers

# Ten digits starting with 0, in groups separated by spaces or dots, or none: "03 80 12 34 56",
# "0 800 123 456", "0380123456". Not part of a longer number nor a decimal.
_PHONE_NUMBER = re.compile(r"(?<![\d,])0(?:[ .\u00a0\u202f]?\d){9}(?![\d])")
_PHONE_SEPARATORS = re.compile(r"[ .\u00a0\u202f]")
PHONE_PAIR = 2  # written without separators, a French number is read in pairs


def _phone_words(match: re.Match[str]) -> str:
    groups = _PHONE_SEPARATORS.split(match[0])
    if len(groups) == 1:
        groups = [groups[0][i : i + PHONE_PAIR] for i in range(0, len(groups[0]), PHONE_PAIR)]
    elif groups[0] == "0":  # a numéro vert "0 800 …" is said "zéro huit cents"
        groups = ["0" + groups[1], *groups[2:]]
    return ", ".join(group_to_words(group) for group in groups)


def spell_phone_numbers(text: str) -> str:
    return _PHONE_NUMBER.sub(_phone_words, text)


# ---- 3. Dossier numbers (hotline.domain.dossier: eight digits)

_DOSSIER_LENGTH = 8
# Eight digits in a row: no other number in a French sentence is written like that.
_EIGHT_DIGITS = re.compile(rf"(?<![\d,])\d{{{_DOSSIER_LENGTH}}}(?!\d)")
# After the word "dossier", also the pairs hotline.domain.dossier.format_for_speech() writes: "12 34 56 78".
_DOSSIER_IN_PAIRS = re.compile(
    r"\b(dossier(?:\s+numéro)?(?:\s+est\s+le)?\s*:?\s+)(\d{2}(?:[ .\u00a0\u202f]\d{2}){3})(?!\d)"
)


def spell_dossier_numbers(text: str) -> str:
    text = _DOSSIER_IN_PAIRS.sub(lambda m: m[1] + digits_to_words(re.sub(r"\D", "", m[2])), text)
    return _EIGHT_DIGITS.sub(lambda m: digits_to_words(m[0]), text)


# ---- 4. Four-digit service numbers

# "appelez le 3939", "au 3919": the short national numbers starting with 3 are said in two pairs, with the
# pause a phone number has between its groups ("trente-deux trente" run together was heard "trente de trente").
_SERVICE_NUMBER = re.compile(r"\b((?:le|au)\s+)(3\d)(\d\d)\b(?!\s*(?:€|euros?\b|%|,\d))")


def spell_service_numbers(text: str) -> str:
    return _SERVICE_NUMBER.sub(lambda m: f"{m[1]}{group_to_words(m[2])}, {group_to_words(m[3])}", text)


# ---- 5. Dates

MONTHS = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split()
_CENTURY = 2000  # a two-digit year "15/03/26" is this century's
_MAX_DAY = 31
# "15/03/2026", "15/03/26", "15/03": day and month of one or two digits, then an optional year.
_NUMERIC_DATE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/])")
# "1 janvier" (sometimes written without "er") is said "premier janvier".
_FIRST_OF_MONTH = re.compile(rf"(?<![\d,])1(?=\s+(?:{'|'.join(MONTHS)})\b)", re.IGNORECASE)


def _date_words(match: re.Match[str]) -> str:
    day, month = int(match[1]), int(match[2])
    if not (1 <= day <= _MAX_DAY and 1 <= month <= len(MONTHS)):
        return match[0]  # not a date: left to the other rules
    words = f"{ordinal(day) if day == 1 else cardinal(day)} {MONTHS[month - 1]}"
    if match[3]:
        year = int(match[3])
        words += " " + number_to_words(year + _CENTURY if len(match[3]) == 2 else year)
    return words


def spell_dates(text: str) -> str:
    text = _NUMERIC_DATE.sub(_date_words, text)
    return _FIRST_OF_MONTH.sub("premier", text)


# ---- 6. Times and opening hours

# "24 h/24" and "7 j/7": round the clock, every day.
_ROUND_THE_CLOCK = re.compile(r"\b24\s*h\s*/\s*24\b")
_EVERY_DAY = re.compile(r"\b7\s*j\s*/\s*7\b")
# A dash between two times is a range: "8 h 30–17 h 30", "8h30-12h" → "… à …".
_TIME_RANGE_DASH = re.compile(r"(?:(?<=\d)|(?<=\bh)|(?<=heures))\s*[-–—]\s*(?=\d{1,2}\s*h)")
# "14 h", "14h", "8 h 30", "8h30", "8 heures 30", "1 heure": the unit is not followed by a letter
# ("8 habitants" is no time); minutes are two digits.
_TIME = re.compile(
    r"(?<![\d,])(?P<hour>\d{1,2})\s*(?:h|heures?)(?![^\W\d_])(?:(?P<gap>\s*)(?P<minutes>[0-5]\d)(?!\d))?"
)
_LAST_HOUR = 24
NOON, MIDNIGHT = 12, 0
# "12 h" is "midi" after these words ("à midi", "dès midi", "entre midi et …"); elsewhere it may be a
# duration ("sous 12 heures"), so it stays "douze heures". "de 12 h" is midi only when a range follows.
_BEFORE_A_TIME_OF_DAY = re.compile(r"\b(?:à|dès|vers|avant|après|entre)\s*$", re.IGNORECASE)
_RANGE_FOLLOWS = re.compile(r"\s*(?:à|[-–—])\s*\d")
_DE_BEFORE = re.compile(r"\b(?:de|De)\s*$")


def _is_noon(match: re.Match[str]) -> bool:
    before = match.string[: match.start()]
    if _BEFORE_A_TIME_OF_DAY.search(before):
        return True
    return bool(_DE_BEFORE.search(before) and _RANGE_FOLLOWS.match(match.string, match.end()))


def _time_words(match: re.Match[str]) -> str:
    hour, minutes = int(match["hour"]), match["minutes"]
    if minutes is not None and hour > _LAST_HOUR:  # "48 heures 30" is no time of day: the 30 is left alone
        return f"{cardinal(hour, feminine=True)} heures{match['gap']}{minutes}"
    if hour == MIDNIGHT:
        words = "minuit"
    elif hour == NOON and minutes is None and _is_noon(match):
        words = "midi"
    else:
        words = cardinal(hour, feminine=True) + (" heure" if hour == 1 else " heures")
    if minutes is not None and int(minutes):
        words += " " + number_to_words(int(minutes))  # "h 00" adds nothing
    return words


def spell_times(text: str) -> str:
    text = _ROUND_THE_CLOCK.sub("vingt-quatre heures sur vingt-quatre", text)
    text = _EVERY_DAY.sub("sept jours sur sept", text)
    text = _TIME_RANGE_DASH.sub(" à ", text)
    return _TIME.sub(_time_words, text)


# ---- 7. Euros and percentages

# An amount: "25", "1 500" (thousands separated by a space, also a no-break one), then an optional decimal part.
_AMOUNT = r"(?<![\d,])(?P<whole>\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:,(?P<decimals>\d+))?"
_EUROS = re.compile(rf"{_AMOUNT}\s*(?:€|euros?\b)")
_PERCENT = re.compile(rf"{_AMOUNT}\s*%")
_CENT_DIGITS = 2  # "25,5 €" is 25 euros and 50 cents


def _whole(match: re.Match[str]) -> int:
    return int(re.sub(r"\D", "", match["whole"]))


def _decimal_words(whole: int, decimals: str | None, *, feminine: bool = False) -> str:
    """A number with its decimal part: "5,5" → "cinq virgule cinq"."""
    words = cardinal(whole, feminine=feminine) if whole <= MAX_NUMBER else digits_to_words(str(whole))
    return f"{words} virgule {group_to_words(decimals)}" if decimals else words


def _euro_words(match: re.Match[str]) -> str:
    euros = _whole(match)
    cents = int((match["decimals"] or "").ljust(_CENT_DIGITS, "0")[:_CENT_DIGITS])
    if euros == 0 and cents:
        return f"{number_to_words(cents)} centime{'s' if cents > 1 else ''}"
    if euros > MAX_NUMBER:
        return digits_to_words(str(euros)) + " euros"
    words = number_to_words(euros)
    unit = "euro" if euros <= 1 else "euros"
    if words.endswith(("million", "millions", "milliard", "milliards")):  # un million d'euros
        unit = "d'euros"
    return f"{words} {unit} {number_to_words(cents)}" if cents else f"{words} {unit}"


def spell_amounts(text: str) -> str:
    text = _EUROS.sub(_euro_words, text)
    text = _PERCENT.sub(lambda m: _decimal_words(_whole(m), m["decimals"]) + " pour cent", text)
    return text.replace("€", "euros").replace("%", "pour cent")  # a sign left without its number


# ---- 8. Ordinals

# "1er", "1re", "1ère", "2e", "3ème", "2nd", "2nde", the superscript forms "1ᵉʳ", "2ᵉ", and their plurals ("1ers").
_ORDINAL = re.compile(r"(?<![\d,])(\d+)(ᵉʳ|er|ère|re|ᵉ|ème|eme|e|nde|nd)(s?)(?![^\W\d_])")
_FEMININE_FIRST = {"ère", "re"}


def _ordinal_words(match: re.Match[str]) -> str:
    n, suffix = int(match[1]), match[2]
    if n > MAX_NUMBER:
        return match[0]
    if suffix in ("nd", "nde"):
        words = "second" if suffix == "nd" else "seconde"
    else:
        words = ordinal(n, feminine=suffix in _FEMININE_FIRST)
    return words + match[3]


def spell_ordinals(text: str) -> str:
    return _ORDINAL.sub(_ordinal_words, text)


# ---- 9. Housing sizes and tram lines

# "T1", "T2", "F3": one capital letter glued to a number ("T un", "F trois").
_LETTER_CODE = re.compile(r"\b([TF])(\d{1,2})\b")


def spell_letter_codes(text: str) -> str:
    return _LETTER_CODE.sub(lambda m: f"{m[1]} {number_to_words(int(m[2]))}", text)


# ---- 10. Street numbers

_STREET_WORDS = (
    "rue avenue boulevard place allée quai impasse chemin route cours square passage esplanade parvis "
    "promenade voie sentier"
).split()
# "12 bis rue …", "3 place …", "2, place …": the number before a street is masculine ("un, place …").
_STREET_NUMBER = re.compile(
    rf"(?<![\d,])(\d{{1,4}})(?:\s*(bis|ter|quater)\b)?(?=,?\s+(?:{'|'.join(_STREET_WORDS)})\b)", re.IGNORECASE
)


def spell_street_numbers(text: str) -> str:
    return _STREET_NUMBER.sub(lambda m: number_to_words(int(m[1])) + (f" {m[2]}" if m[2] else ""), text)


# ---- 11. Acronyms

# How the city's acronyms are said: letter by letter, or as a word (then in lower case, which the
# synthesiser reads as a word). Also the few names it would say wrongly as written.
ACRONYMS: dict[str, str] = {
    "ANTAI": "antaï",
    "ANTS": "A N T S",
    "APL": "A P L",
    "CAF": "caf",
    "CCAS": "C C A S",
    "CNI": "C N I",
    "CPAM": "C P A M",
    "DVD": "D V D",
    "EDF": "E D F",
    "EHPAD": "éhpad",
    "ENEDIS": "énédis",
    "Enedis": "Énédis",
    "FR-Alert": "F R alerte",
    "HLM": "H L M",
    "JDC": "J D C",
    "PACS": "pacs",
    "PLU": "P L U",
    "PLUi": "P L U i",
    "PMI": "P M I",
    "PMR": "P M R",
    "RSA": "R S A",
    "SAMU": "samu",
    "SMS": "S M S",
    "SNCF": "S N C F",
    "URSSAF": "urssaf",
    "ZFE": "Z F E",
}
_KNOWN_ACRONYM = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(key) for key in sorted(ACRONYMS, key=len, reverse=True)) + r")(?![\w-])"
)
# Any other word of two capitals or more.
_CAPITALS_WORD = re.compile(r"\b[A-ZÀ-ÖØ-Þ]{2,}\b")
_VOWELS = set("AEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜŸ")
MAX_SPELLED_LENGTH = 3  # "RER", "TVA": short acronyms are spelled out; longer ones with a vowel are words


def _unknown_acronym(match: re.Match[str]) -> str:
    word = match[0]
    if len(word) <= MAX_SPELLED_LENGTH or not _VOWELS.intersection(word):
        return " ".join(word)
    return word.lower()


def spell_acronyms(text: str) -> str:
    text = _KNOWN_ACRONYM.sub(lambda m: ACRONYMS[m[1]], text)
    return _CAPITALS_WORD.sub(_unknown_acronym, text)


# ---- 12. Every other number

# Feminine nouns a number may count: "vingt et une semaines". (Not "place": "1 place du Marché" is "un".)
_FEMININE_NOUNS = re.compile(
    r"\s+(?:fois|semaines?|minutes?|secondes?|années?|personnes?|nuits?|journées?|communes?|tonnes?)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(_AMOUNT + r"(?!\d)")


def _number_words(match: re.Match[str]) -> str:
    whole = match["whole"]
    if whole.startswith("0") and len(whole) > 1:  # "007": read as written
        return group_to_words(whole)
    feminine = bool(_FEMININE_NOUNS.match(match.string, match.end()))
    return _decimal_words(_whole(match), match["decimals"], feminine=feminine)


def spell_numbers(text: str) -> str:
    return _NUMBER.sub(_number_words, text)


# ---- 13. Tidying

_ELISION = re.compile(r"\b([dD])e (une?)\b")  # "de une heure" → "d'une heure"
_SPACES = re.compile(r"[ \t]{2,}")


def tidy(text: str) -> str:
    text = _ELISION.sub(r"\1'\2", text)
    return _SPACES.sub(" ", text)


RULES: tuple[Callable[[str], str], ...] = (
    spell_number_sign,
    spell_phone_numbers,
    spell_dossier_numbers,
    spell_service_numbers,
    spell_dates,
    spell_times,
    spell_amounts,
    spell_ordinals,
    spell_letter_codes,
    spell_street_numbers,
    spell_acronyms,
    spell_numbers,
    tidy,
)


def speakable(text: str) -> str:
    """`text` with every number, sign and acronym written as a French voice should say it."""
    for rule in RULES:
        text = rule(text)
    return text
