"""French text preparation for speech: one group of tests per rule, then the whole KB and prompt catalogue."""

from __future__ import annotations

import re

import pytest

from hotline.settings import DEFAULT_KB_PATH
from ivr.flow.prompts import PROMPT_TEXTS
from ivr.prompts.french_text import cardinal, number_to_words, ordinal, speakable
from kb.loader import load_kb

KB = load_kb(DEFAULT_KB_PATH)


# ---- Numbers in words


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zéro"),
        (1, "un"),
        (16, "seize"),
        (17, "dix-sept"),
        (21, "vingt et un"),
        (22, "vingt-deux"),
        (61, "soixante et un"),
        (70, "soixante-dix"),
        (71, "soixante et onze"),
        (79, "soixante-dix-neuf"),
        (80, "quatre-vingts"),
        (81, "quatre-vingt-un"),
        (90, "quatre-vingt-dix"),
        (91, "quatre-vingt-onze"),
        (99, "quatre-vingt-dix-neuf"),
        (100, "cent"),
        (101, "cent un"),
        (180, "cent quatre-vingts"),
        (200, "deux cents"),
        (201, "deux cent un"),
        (456, "quatre cent cinquante-six"),
        (1000, "mille"),
        (1001, "mille un"),
        (1500, "mille cinq cents"),
        (2026, "deux mille vingt-six"),
        (80_000, "quatre-vingt mille"),
        (200_000, "deux cent mille"),
        (600_000, "six cent mille"),
        (1_000_000, "un million"),
        (2_500_000, "deux millions cinq cent mille"),
        (200_000_000, "deux cents millions"),
        (
            999_999_999,
            "neuf cent quatre-vingt-dix-neuf millions neuf cent quatre-vingt-dix-neuf mille neuf cent "
            "quatre-vingt-dix-neuf",
        ),
        (3_000_000_000, "trois milliards"),
    ],
)
def test_number_to_words(n: int, words: str) -> None:
    assert number_to_words(n) == words


def test_number_out_of_range() -> None:
    with pytest.raises(ValueError):
        number_to_words(-1)
    with pytest.raises(ValueError):
        number_to_words(10**12)


def test_feminine_cardinal() -> None:
    assert cardinal(1, feminine=True) == "une"
    assert cardinal(21, feminine=True) == "vingt et une"
    assert cardinal(81, feminine=True) == "quatre-vingt-une"
    assert cardinal(11, feminine=True) == "onze"
    assert cardinal(21) == "vingt et un"


@pytest.mark.parametrize(
    ("n", "feminine", "words"),
    [
        (1, False, "premier"),
        (1, True, "première"),
        (2, False, "deuxième"),
        (3, False, "troisième"),
        (4, False, "quatrième"),
        (5, False, "cinquième"),
        (9, False, "neuvième"),
        (11, False, "onzième"),
        (21, False, "vingt et unième"),
        (80, False, "quatre-vingtième"),
        (100, False, "centième"),
        (1000, False, "millième"),
    ],
)
def test_ordinal(n: int, feminine: bool, words: str) -> None:
    assert ordinal(n, feminine=feminine) == words


# ---- Times and opening hours


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("8 h 30–17 h 30", "huit heures trente à dix-sept heures trente"),
        ("8 h 30 – 17 h 30", "huit heures trente à dix-sept heures trente"),
        ("8h30-12h", "huit heures trente à midi"),
        ("de 9 h à 12 h", "de neuf heures à midi"),
        ("14h", "quatorze heures"),
        ("à partir de 18 h.", "à partir de dix-huit heures."),
        ("8 h 00", "huit heures"),
        ("8 h 05", "huit heures cinq"),
        ("de 8 heures 30 à 17 heures 30", "de huit heures trente à dix-sept heures trente"),
        ("de 9 heures à 12 heures 30", "de neuf heures à douze heures trente"),
        ("de 12 h à 14 h", "de midi à quatorze heures"),
        ("dès 12 h", "dès midi"),
        ("jusqu'à 0 h 30", "jusqu'à minuit trente"),
        ("à 0 h", "à minuit"),
        ("de 1 heure à 5 heures du matin", "d'une heure à cinq heures du matin"),
        ("jusqu'à 21 h", "jusqu'à vingt et une heures"),
        ("24 h/24 et 7j/7", "vingt-quatre heures sur vingt-quatre et sept jours sur sept"),
    ],
)
def test_times(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("l'équipe repasse sous 48 heures.", "l'équipe repasse sous quarante-huit heures."),
        ("dans les 24 heures", "dans les vingt-quatre heures"),
        ("un délai de 12 h", "un délai de douze heures"),  # a duration, not noon
        ("sous 12 heures", "sous douze heures"),
        ("8 habitants", "huit habitants"),  # an h that starts a word is no hour
    ],
)
def test_durations_are_not_times_of_day(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


# ---- Phone numbers


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("03 80 12 34 56", "zéro trois, quatre-vingts, douze, trente-quatre, cinquante-six"),
        ("03.80.12.34.56", "zéro trois, quatre-vingts, douze, trente-quatre, cinquante-six"),
        ("0380123456", "zéro trois, quatre-vingts, douze, trente-quatre, cinquante-six"),
        ("le 0 800 123 456.", "le zéro huit cents, cent vingt-trois, quatre cent cinquante-six."),
        ("08 00 10 20 30", "zéro huit, zéro zéro, dix, vingt, trente"),
    ],
)
def test_phone_numbers(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("appelez le 112 ou le 18.", "appelez le cent douze ou le dix-huit."),
        ("appelez le 15", "appelez le quinze"),
        ("appelez le 17.", "appelez le dix-sept."),
        ("signalez-la au 115, qui", "signalez-la au cent quinze, qui"),
        ("appelez le 3939.", "appelez le trente-neuf, trente-neuf."),
        ("au 3919", "au trente-neuf, dix-neuf"),
    ],
)
def test_short_numbers(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


# ---- Dossier numbers


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("dossier 12345678", "dossier un deux trois quatre cinq six sept huit"),
        (
            "Votre numéro de dossier est le 10000009.",
            "Votre numéro de dossier est le un zéro zéro zéro zéro zéro zéro neuf.",
        ),
        ("le dossier n° 12345678", "le dossier numéro un deux trois quatre cinq six sept huit"),
        ("dossier 12 34 56 78", "dossier un deux trois quatre cinq six sept huit"),
    ],
)
def test_dossier_numbers_digit_by_digit(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


# ---- Dates


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("le 1er janvier", "le premier janvier"),
        ("du 1er novembre au 31 mars", "du premier novembre au trente et un mars"),
        ("le 15/03/2026", "le quinze mars deux mille vingt-six"),
        ("le 01/04/2026", "le premier avril deux mille vingt-six"),
        ("le 15/03/26", "le quinze mars deux mille vingt-six"),
        ("avant le 31/12", "avant le trente et un décembre"),
        ("lundi 3 mars", "lundi trois mars"),
        ("le 1 janvier", "le premier janvier"),
        ("depuis 2024", "depuis deux mille vingt-quatre"),
    ],
)
def test_dates(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


def test_a_slash_that_is_no_date_is_read_as_numbers() -> None:
    assert speakable("45/60") == "quarante-cinq/soixante"


# ---- "n°", housing and tram codes, ordinals


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("n° 12", "numéro douze"),
        ("n°12", "numéro douze"),
        ("N° de dossier", "Numéro de dossier"),
        ("nº 3", "numéro trois"),
    ],
)
def test_number_sign(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("les trams T1 et T2", "les trams T un et T deux"),
        ("un T3 ou un F4", "un T trois ou un F quatre"),
    ],
)
def test_housing_and_tram_codes(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("le 1er", "le premier"),
        ("la 1re fois", "la première fois"),
        ("la 1ère fois", "la première fois"),
        ("vous êtes le 2e", "vous êtes le deuxième"),
        ("vous êtes le 3ème", "vous êtes le troisième"),
        ("le 21e", "le vingt et unième"),
        ("la 2nde", "la seconde"),
        ("les 1ers arrivés", "les premiers arrivés"),
        ("le 1ᵉʳ mars", "le premier mars"),
    ],
)
def test_ordinals(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


# ---- Acronyms


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("le CCAS", "le C C A S"),
        ("la CAF", "la caf"),
        ("l'ANTS", "l'A N T S"),
        ("le PLU et le PLUi", "le P L U et le P L U i"),
        ("la CPAM", "la C P A M"),
        ("l'URSSAF", "l'urssaf"),
        ("la SNCF", "la S N C F"),
        ("EDF", "E D F"),
        ("ENEDIS ou Enedis", "énédis ou Énédis"),
        ("le SAMU", "le samu"),
        ("le RSA, les APL, la CNI", "le R S A, les A P L, la C N I"),
        ("un SMS", "un S M S"),
        ("la PMI", "la P M I"),
        ("Le PACS", "Le pacs"),
        ("l'ANTAI", "l'antaï"),
        ("les alertes FR-Alert", "les alertes F R alerte"),
    ],
)
def test_known_acronyms(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("répondez STOP", "répondez stop"),  # four letters with a vowel: a word
        ("la TVA", "la T V A"),  # three letters or fewer: spelled
        ("OK", "O K"),
        ("le BTP", "le B T P"),
        ("le XKCD", "le X K C D"),  # no vowel: spelled
        ("hépatite B", "hépatite B"),  # one capital is no acronym
        ("PayByPhone", "PayByPhone"),  # a mixed-case name is left alone
    ],
)
def test_unknown_acronyms(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


# ---- Street numbers


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("12 bis rue du Moulin", "douze bis rue du Moulin"),
        ("3ter avenue des Sports", "trois ter avenue des Sports"),
        ("3 place de la Gare", "trois place de la Gare"),
        ("au 2, place de la République", "au deux, place de la République"),
        ("1 place du Marché", "un place du Marché"),  # the number of the house, not a count of places
        ("21 quai de l'Orvanne", "vingt et un quai de l'Orvanne"),
        ("5 allée des Acacias", "cinq allée des Acacias"),
    ],
)
def test_street_numbers(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


# ---- Euros and percentages


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("25 €", "vingt-cinq euros"),
        ("25€", "vingt-cinq euros"),
        ("25,50 €", "vingt-cinq euros cinquante"),
        ("25,5 €", "vingt-cinq euros cinquante"),
        ("25,05 €", "vingt-cinq euros cinq"),
        ("1 500 €", "mille cinq cents euros"),
        ("1 €", "un euro"),
        ("0,90 €", "quatre-vingt-dix centimes"),
        ("1 000 000 €", "un million d'euros"),
        ("2 500 000 €", "deux millions cinq cent mille euros"),
        ("1 500 euros d'amende", "mille cinq cents euros d'amende"),
        ("600 000 euros", "six cent mille euros"),
        ("1 euro 80 de l'heure", "un euro quatre-vingts de l'heure"),
        ("4 euros 50", "quatre euros cinquante"),
        ("90 centimes", "quatre-vingt-dix centimes"),
    ],
)
def test_euros(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("20 %", "vingt pour cent"),
        ("20%", "vingt pour cent"),
        ("5,5 %", "cinq virgule cinq pour cent"),
        ("100 % remboursé", "cent pour cent remboursé"),
    ],
)
def test_percentages(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


# ---- Every other number


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("3 jours", "trois jours"),
        ("Tapez 1 pour oui, 2 pour non.", "Tapez un pour oui, deux pour non."),
        ("tapez 0.", "tapez zéro."),
        ("plus de 300 associations", "plus de trois cents associations"),
        ("de 90 à 480 euros", "de quatre-vingt-dix à quatre cent quatre-vingts euros"),
        ("21 semaines", "vingt et une semaines"),
        ("1 fois", "une fois"),
        ("31 jours", "trente et un jours"),
        ("12 000 habitants", "douze mille habitants"),
        ("2,5 kilomètres", "deux virgule cinq kilomètres"),
        ("007", "zéro zéro sept"),
        ("1, 2 ou 3", "un, deux ou trois"),
    ],
)
def test_plain_numbers(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


def test_punctuation_is_kept() -> None:
    text = "Le samedi, de 9 h à 12 h ; le dimanche : fermé. Ouvert ? Oui !"
    assert speakable(text) == "Le samedi, de neuf heures à midi ; le dimanche : fermé. Ouvert ? Oui !"


def test_text_without_anything_to_spell_is_unchanged() -> None:
    text = "Merci de votre appel. Au revoir."
    assert speakable(text) == text


# ---- The knowledge base and the prompt catalogue

_LEFT_FOR_THE_SYNTHESISER = re.compile(r"\d|€|%|n°", re.IGNORECASE)
_EVERY_TEXT = [(entry.id, entry.spoken_answer) for entry in KB.entries] + list(PROMPT_TEXTS.items())


@pytest.mark.parametrize(("name", "text"), _EVERY_TEXT, ids=[name for name, _ in _EVERY_TEXT])
def test_nothing_is_left_to_misread(name: str, text: str) -> None:
    spoken = speakable(text)
    assert not _LEFT_FOR_THE_SYNTHESISER.search(spoken), f"{name}: {spoken}"
    assert speakable(spoken) == spoken  # already speakable text goes through unchanged


def test_the_catalogue_has_digits_to_spell() -> None:
    """Guards the check above: it must see texts with digits, or it would pass on nothing."""
    assert sum(bool(re.search(r"\d", text)) for _, text in _EVERY_TEXT) > len(KB.entries) // 2


def _answer(faq_id: str) -> str:
    entry = KB.get(faq_id)
    assert entry is not None, faq_id
    return entry.spoken_answer


def test_town_hall_opening_hours() -> None:
    assert speakable(_answer("mairie.horaires")) == (
        "L'hôtel de ville d'Aurevault est ouvert du lundi au vendredi, de huit heures trente à dix-sept heures "
        "trente, sans interruption. Le samedi, de neuf heures à midi, seul le service état civil est ouvert. La "
        "mairie annexe des Hauts-de-Sorel, à la Maison des services, ouvre du lundi au vendredi, de neuf heures à "
        "douze heures trente et de treize heures trente à dix-sept heures. La mairie annexe de La Gravière ouvre "
        "du mardi au vendredi, de neuf heures à midi et de quatorze heures à dix-sept heures. Tout est fermé les "
        "jours fériés. Pour une carte d'identité ou un passeport, pensez à prendre rendez-vous."
    )


def test_buses_and_trams() -> None:
    assert speakable(_answer("transports.bus-tram")) == (
        "Le réseau Orva compte les trams T un et T deux et les bus des douze communes. Les trams circulent de "
        "cinq heures trente à minuit et demi environ, toutes les sept minutes en journée. Le ticket à l'unité "
        "coûte un euro soixante et vaut une heure, correspondances comprises ; le carnet de dix, treize euros "
        "cinquante ; l'abonnement mensuel, trente-huit euros, ou vingt euros pour les moins de vingt-six ans. "
        "Achetez vos titres sur l'application Orva, aux distributeurs des stations, ou à l'agence Orva, place de "
        "la Gare, du lundi au samedi de sept heures trente à dix-neuf heures. Horaires en temps réel et "
        "perturbations sont sur l'application et le site internet d'Orva."
    )


def test_social_services_address_and_hours() -> None:
    assert speakable(_answer("social.ccas-aides")).startswith(
        "Le C C A S, le centre communal d'action sociale, vous accueille au quatorze rue des Tanneurs, à "
        "Aurevault, du lundi au vendredi de huit heures trente à midi et de treize heures trente à dix-sept "
        "heures. "
    )


def test_lighting_night_hours() -> None:
    assert "éteint d'une heure à cinq heures du matin" in speakable(_answer("voirie.eclairage"))


def test_the_menu() -> None:
    assert speakable(PROMPT_TEXTS["menu"]) == (
        "Pour les horaires de la mairie, tapez un. Pour une carte d'identité, tapez deux. Pour la collecte des "
        "poubelles, tapez trois. Pour une coupure d'eau ou une fuite, tapez quatre. Pour suivre une demande avec "
        "votre numéro de dossier, tapez cinq. Pour parler à un conseiller, tapez zéro. Pour réécouter ce "
        "message, appuyez sur la touche étoile."
    )
