"""Dossier numbers: Damm check digit, validation of what callers type, speech formatting."""

from __future__ import annotations

import random

import pytest

from hotline.domain.dossier import (
    DAMM_TABLE,
    DOSSIER_LENGTH,
    check_digit,
    format_for_speech,
    is_valid,
    new_dossier_number,
    normalize,
    parse,
)

SAMPLE_SIZE = 300  # random numbers checked exhaustively for single errors and transpositions


# Worked by hand from DAMM_TABLE (row = interim digit, column = next digit), interim starting at 0.
HAND_COMPUTED = [
    # 5: row 0 col 5 -> 9; 7: row 9 col 7 -> 7; 2: row 7 col 2 -> 4. The published example.
    ("572", "4"),
    # 1 -> 3, 2: row 3 col 2 -> 5, 3: row 5 col 3 -> 4, 4: row 4 col 4 -> 0, 5: row 0 col 5 -> 9,
    # 6: row 9 col 6 -> 6, 7: row 6 col 7 -> 1.
    ("1234567", "1"),
    # 2 -> 1, 0: row 1 col 0 -> 7, 2: row 7 col 2 -> 4, 4: row 4 col 4 -> 0, 0 -> 0, 0 -> 0, 1: row 0 col 1 -> 3.
    ("2024001", "3"),
    # 9 -> 2, 8: row 2 col 8 -> 5, 7: row 5 col 7 -> 5, 6: row 5 col 6 -> 9, 5: row 9 col 5 -> 3,
    # 4: row 3 col 4 -> 9, 3: row 9 col 3 -> 1.
    ("9876543", "1"),
    # 5 -> 9, then zeros walk column 0: 9 -> 2 -> 4 -> 6 -> 5 -> 3 -> 1.
    ("5000000", "1"),
]


def _sample_numbers() -> list[str]:
    rng = random.Random(20240611)
    return ["12345671", "20240013", "98765431", "50000001"] + [new_dossier_number(rng) for _ in range(SAMPLE_SIZE)]


def test_damm_table_is_a_quasigroup_with_zero_diagonal() -> None:
    # Guards against a typo in the table: each row and column is a permutation of 0-9, the diagonal is 0.
    digits = set(range(10))
    assert all(set(row) == digits for row in DAMM_TABLE)
    assert all({row[col] for row in DAMM_TABLE} == digits for col in range(10))
    assert all(DAMM_TABLE[i][i] == 0 for i in range(10))


@pytest.mark.parametrize(("body", "expected"), HAND_COMPUTED)
def test_check_digit_matches_hand_computation(body: str, expected: str) -> None:
    assert check_digit(body) == expected


def test_check_digit_rejects_non_digits() -> None:
    with pytest.raises(ValueError, match="not a digit"):
        check_digit("12a4567")


@pytest.mark.parametrize("number", ["12345671", "20240013", "98765431", "50000001"])
def test_hand_computed_numbers_are_valid(number: str) -> None:
    assert is_valid(number)


def _substitutions(number: str) -> list[str]:
    return [
        number[:position] + digit + number[position + 1 :]
        for position in range(DOSSIER_LENGTH)
        for digit in "0123456789"
        if digit != number[position]
    ]


def _adjacent_transpositions(number: str) -> list[str]:
    return [
        number[:position] + number[position + 1] + number[position] + number[position + 2 :]
        for position in range(DOSSIER_LENGTH - 1)
        if number[position] != number[position + 1]
    ]


def test_every_single_digit_substitution_is_rejected() -> None:
    for number in _sample_numbers():
        assert is_valid(number)
        typos = _substitutions(number)
        assert len(typos) == DOSSIER_LENGTH * 9
        accepted = [typo for typo in typos if is_valid(typo)]
        assert accepted == [], f"typos of {number} accepted"


def test_every_adjacent_transposition_is_rejected() -> None:
    checked = 0
    for number in _sample_numbers():
        swaps = _adjacent_transpositions(number)
        checked += len(swaps)
        accepted = [swap for swap in swaps if is_valid(swap)]
        assert accepted == [], f"transpositions of {number} accepted"
    assert checked > SAMPLE_SIZE * 5  # most numbers have 6-7 distinct adjacent pairs


@pytest.mark.parametrize(
    "typed",
    [
        "12345671",
        "12 34 56 71",
        "  12 34 56 71 ",
        "12.34.56.71",
        "12-34-56-71",
        "1234-5671",
        "12\u00a034\u00a056\u00a071",  # no-break spaces, as a French-formatted document writes them
        "12\u202f34\u202f56\u202f71",  # narrow no-break spaces
    ],
)
def test_separators_callers_and_agents_type_are_accepted(typed: str) -> None:
    assert is_valid(typed)
    assert parse(typed) == "12345671"
    assert normalize(typed) == "12345671"


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("", "empty"),
        ("1234567", "7 digits: the check digit is missing"),
        ("123456710", "9 digits"),
        ("12345672", "wrong check digit"),
        ("1234567a", "a letter"),
        ("12345#71", "a keypad # in the middle"),
        ("0" + "123456" + check_digit("0123456"), "leading 0 with a correct check digit"),
        ("١٢٣٤٥٦٧١", "Arabic-Indic digits: isdigit() is true but they are not keypad digits"),
        ("12_34_56_71", "underscore is not a separator"),
    ],
)
def test_malformed_numbers_are_rejected(typed: str, why: str) -> None:
    assert not is_valid(typed), why
    assert parse(typed) is None, why


def test_new_numbers_are_valid_eight_digits_without_leading_zero() -> None:
    rng = random.Random(7)
    numbers = [new_dossier_number(rng) for _ in range(2000)]
    assert all(len(n) == DOSSIER_LENGTH and n.isascii() and n.isdigit() for n in numbers)
    assert all(is_valid(n) for n in numbers)
    assert {n[0] for n in numbers} == set("123456789")


def test_new_numbers_are_reproducible_with_a_seeded_rng() -> None:
    assert new_dossier_number(random.Random(42)) == new_dossier_number(random.Random(42))


def test_new_numbers_default_to_the_system_random_source() -> None:
    numbers = {new_dossier_number() for _ in range(50)}
    assert all(is_valid(n) for n in numbers)
    assert len(numbers) > 1


@pytest.mark.parametrize("typed", ["12345671", "12.34.56.71", " 1234 5671 "])
def test_format_for_speech_reads_in_pairs(typed: str) -> None:
    assert format_for_speech(typed) == "12 34 56 71"


def test_format_for_speech_refuses_an_invalid_number() -> None:
    with pytest.raises(ValueError, match="not a valid dossier number"):
        format_for_speech("12345672")
