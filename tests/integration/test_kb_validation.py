"""A malformed KB file gives a clear error (file, entry, field, reason), never a crash or a half load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kb.loader import KbInvalid, load_kb

GOOD = """
topic: sport
service: Service des sports
entries:
  - id: sport.piscine
    title: Piscine
    questions: [horaires de la piscine, la piscine est ouverte, prix de la piscine, cours de natation,
                piscine le dimanche]
    spoken_answer: La piscine est ouverte tous les jours de neuf heures à vingt heures.
    web_answer: Ouverte tous les jours de 9 h à 20 h.
"""


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")


def _errors(folder: Path) -> list[str]:
    with pytest.raises(KbInvalid) as info:
        load_kb(folder)
    return [str(e) for e in info.value.errors]


def test_good_file_loads(tmp_path: Path) -> None:
    _write(tmp_path, "sport.yaml", GOOD)
    kb = load_kb(tmp_path)
    assert kb.ids() == ["sport.piscine"]
    assert kb.entries[0].service == "Service des sports"  # the file's default service


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    _write(tmp_path, "sport.yaml", GOOD)
    _write(tmp_path, "eau.yaml", "topic: eau\nentries:\n  - id: [unclosed\n")
    errors = _errors(tmp_path)
    assert len(errors) == 1
    assert errors[0].startswith("eau.yaml: not valid YAML at line 4, column 1: expected ',' or ']'")


def test_one_bad_file_loads_nothing(tmp_path: Path) -> None:
    _write(tmp_path, "sport.yaml", GOOD)
    _write(tmp_path, "eau.yaml", "just a sentence")
    errors = _errors(tmp_path)
    assert errors == ["eau.yaml: expected a mapping with 'topic' and 'entries'"]


def test_missing_field_and_too_few_questions(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "sport.yaml",
        """
        topic: sport
        entries:
          - id: sport.stade
            title: Stade
            questions: [le stade, le terrain de foot]
            spoken_answer: Le stade est ouvert aux clubs.
            web_answer: Réservé aux clubs.
        """,
    )
    errors = _errors(tmp_path)
    assert "sport.yaml › sport.stade › questions: Tuple should have at least 5 items after validation, not 2" in errors
    assert "sport.yaml › sport.stade › service: Field required" in errors


def test_url_in_spoken_answer_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "sport.yaml", GOOD.replace("à vingt heures.", "à vingt heures, voir www.aurevault.fr."))
    [error] = _errors(tmp_path)
    assert error.startswith("sport.yaml › sport.piscine › spoken_answer:")
    assert "web address" in error


def test_too_long_spoken_answer(tmp_path: Path) -> None:
    long_answer = " ".join(["mot"] * 130)
    _write(
        tmp_path,
        "sport.yaml",
        GOOD.replace("La piscine est ouverte tous les jours de neuf heures à vingt heures.", long_answer),
    )
    [error] = _errors(tmp_path)
    assert "130 words is longer than about 45 s" in error


def test_bad_action_and_unknown_field(tmp_path: Path) -> None:
    _write(tmp_path, "sport.yaml", GOOD + "    action: teleport\n    colour: blue\n")
    errors = _errors(tmp_path)
    assert any("sport.piscine › action: Input should be" in e for e in errors)
    assert any("sport.piscine › colour: Extra inputs are not permitted" in e for e in errors)


def test_id_must_start_with_topic_and_be_unique(tmp_path: Path) -> None:
    _write(tmp_path, "sport.yaml", GOOD)
    _write(tmp_path, "culture.yaml", GOOD.replace("topic: sport", "topic: culture"))
    errors = _errors(tmp_path)
    assert any("culture.yaml › sport.piscine" in e and "must start with its topic 'culture'" in e for e in errors)


def test_duplicate_id(tmp_path: Path) -> None:
    _write(tmp_path, "sport.yaml", GOOD + GOOD.split("entries:\n")[1])
    assert _errors(tmp_path) == ["sport.yaml › sport.piscine › id: duplicate id, also in sport.yaml"]


def test_file_name_must_match_topic(tmp_path: Path) -> None:
    _write(tmp_path, "piscine.yaml", GOOD)
    assert _errors(tmp_path) == ["piscine.yaml › topic: file name must be sport.yaml"]


def test_validity_window(tmp_path: Path) -> None:
    _write(tmp_path, "sport.yaml", GOOD + "    valid_from: 2026-07-01\n    valid_until: 2026-06-01\n")
    [error] = _errors(tmp_path)
    assert "valid_until is before valid_from" in error


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "sport.yaml").write_bytes(GOOD.replace("à", "\xe0").encode("latin-1"))
    [error] = _errors(tmp_path)
    assert error.startswith("sport.yaml: not UTF-8 text")


def test_empty_folder(tmp_path: Path) -> None:
    assert _errors(tmp_path) == [f"{tmp_path}: no .yaml file in the folder"]
