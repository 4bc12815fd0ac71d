"""The main menu file and the prompt catalog: loading, checks against the KB, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.domain.enums import TicketStatus
from ivr.flow.menu import DEFAULT_MENU_FILE, DOSSIER_TARGET, MenuChoice, MenuInvalid, load_menu
from ivr.flow.prompts import PROMPT_TEXTS, ticket_status_key
from kb.loader import load_kb
from kb.schema import Action

KB_FOLDER = Path(__file__).resolve().parents[2] / "kb" / "content"
KB_IDS = {"mairie.horaires", "etat-civil.carte-identite", "dechets.collecte", "eau.coupure"}

GOOD_PROMPT = (
    "Pour les horaires, tapez 1. Pour un dossier, tapez 2. Pour un conseiller, tapez 0. Pour réécouter, tapez étoile."
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "menu.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _menu_file(tmp_path: Path, choices: str, prompt: str = GOOD_PROMPT) -> Path:
    return _write(tmp_path, f"prompt: {prompt}\nchoices:\n{choices}")


def _problems(path: Path) -> list[str]:
    with pytest.raises(MenuInvalid) as caught:
        load_menu(path, KB_IDS)
    return caught.value.problems


def test_the_shipped_menu_loads_against_the_real_knowledge_base() -> None:
    kb = load_kb(KB_FOLDER)
    menu = load_menu(DEFAULT_MENU_FILE, kb.ids())
    assert menu.choices == (
        MenuChoice("1", "mairie.horaires"),
        MenuChoice("2", "etat-civil.carte-identite"),
        MenuChoice("3", "dechets.collecte"),
        MenuChoice("4", "eau.coupure"),
        MenuChoice("5", DOSSIER_TARGET),
    )
    assert menu.by_digit()["5"].faq_id is None
    assert menu.by_digit()["1"].faq_id == "mairie.horaires"
    # The menu exercises the actions the flow distinguishes.
    actions = {entry.action for entry in kb.entries if entry.id in {choice.faq_id for choice in menu.choices}}
    assert actions == {Action.ANSWER, Action.REPORT, Action.TRANSFER}
    assert "\n" not in menu.prompt and "tapez 0" in menu.prompt and "étoile" in menu.prompt


def test_a_small_valid_menu(tmp_path: Path) -> None:
    menu = load_menu(_menu_file(tmp_path, '  "2": dossier\n  "1": mairie.horaires\n'), KB_IDS)
    assert menu.prompt == GOOD_PROMPT
    assert menu.choices == (MenuChoice("1", "mairie.horaires"), MenuChoice("2", DOSSIER_TARGET))


def test_unquoted_digits_are_accepted(tmp_path: Path) -> None:
    menu = load_menu(_menu_file(tmp_path, "  1: mairie.horaires\n  2: dossier\n"), KB_IDS)
    assert [choice.digit for choice in menu.choices] == ["1", "2"]


def test_unknown_entry_id(tmp_path: Path) -> None:
    problems = _problems(_menu_file(tmp_path, '  "1": mairie.horaire\n  "2": dossier\n'))
    assert problems == ["choices › 1: unknown knowledge-base entry 'mairie.horaire'"]


def test_zero_is_reserved(tmp_path: Path) -> None:
    problems = _problems(_menu_file(tmp_path, '  "0": eau.coupure\n  "1": mairie.horaires\n  "2": dossier\n'))
    assert problems == ["choices: 0 is reserved: it reaches a person from every step of the call"]


@pytest.mark.parametrize("key", ['"10"', '"*"', '"a"', '"#"'])
def test_choice_keys_are_single_digits(tmp_path: Path, key: str) -> None:
    problems = _problems(_menu_file(tmp_path, f'  "1": mairie.horaires\n  "2": dossier\n  {key}: eau.coupure\n'))
    assert len(problems) == 1
    assert "is not a digit from 1 to 9" in problems[0]


def test_a_digit_twice_is_an_error_not_a_silent_override(tmp_path: Path) -> None:
    problems = _problems(_menu_file(tmp_path, '  "1": mairie.horaires\n  "1": eau.coupure\n  "2": dossier\n'))
    assert len(problems) == 1
    assert "key '1' appears twice" in problems[0] and "line 4" in problems[0]


def test_the_same_entry_twice(tmp_path: Path) -> None:
    problems = _problems(_menu_file(tmp_path, '  "1": mairie.horaires\n  "2": mairie.horaires\n'))
    assert problems == ["choices › 2: 'mairie.horaires' is already choice 1"]


def test_empty_target(tmp_path: Path) -> None:
    problems = _problems(_menu_file(tmp_path, '  "1": mairie.horaires\n  "2":\n'))
    assert problems == ["choices › 2: expected an entry id or 'dossier'"]


def test_the_prompt_must_announce_every_choice(tmp_path: Path) -> None:
    choices = '  "1": mairie.horaires\n  "2": dossier\n  "3": eau.coupure\n'
    assert _problems(_menu_file(tmp_path, choices)) == ['prompt: does not announce choice 3 (say "tapez 3")']


def test_the_prompt_must_not_announce_a_missing_choice(tmp_path: Path) -> None:
    assert _problems(_menu_file(tmp_path, '  "1": mairie.horaires\n')) == [
        'prompt: announces "tapez 2" but 2 is not a choice'
    ]


def test_the_prompt_must_say_zero_and_star(tmp_path: Path) -> None:
    prompt = "Pour les horaires, tapez 1. Pour un dossier, appuyez sur la touche 2."
    problems = _problems(_menu_file(tmp_path, '  "1": mairie.horaires\n  "2": dossier\n', prompt))
    assert problems == [
        'prompt: must say how to reach a person ("tapez 0")',
        'prompt: must say how to hear it again ("appuyez sur la touche étoile")',
    ]


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, 'prompt: ""\nchoices:\n  "1": nope.nope\nextra: 1\n')
    problems = _problems(path)
    assert problems == [
        "unknown key 'extra' (expected: prompt, choices)",
        "choices › 1: unknown knowledge-base entry 'nope.nope'",
        "prompt: expected the French text of the menu",
    ]
    with pytest.raises(MenuInvalid, match=r"menu.yaml: 3 problem\(s\) in the menu"):
        load_menu(path, KB_IDS)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- a\n- b\n", "expected a mapping with 'prompt' and 'choices'"),
        (f"prompt: {GOOD_PROMPT}\n", "choices: expected a mapping of digits to entry ids"),
        (f"prompt: {GOOD_PROMPT}\nchoices: {{}}\n", "choices: expected a mapping of digits to entry ids"),
        ("prompt: [unclosed\n", "not valid YAML at line 2"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, problem: str) -> None:
    problems = _problems(_write(tmp_path, text))
    assert problem in problems[0]


def test_missing_file(tmp_path: Path) -> None:
    problems = _problems(tmp_path / "nowhere.yaml")
    assert problems[0].startswith("cannot read the file")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "menu.yaml"
    path.write_bytes("prompt: Élise\n".encode("latin-1"))
    assert _problems(path)[0].startswith("not UTF-8 text")


def test_prompt_catalog_has_every_ticket_status() -> None:
    for status in TicketStatus:
        key = ticket_status_key(status)
        assert key == f"ticket_status.{status.value}"
        assert PROMPT_TEXTS[key].startswith("Votre demande")


def test_prompt_catalog_menu_is_the_shipped_menu_text() -> None:
    assert PROMPT_TEXTS["menu"] == load_menu(DEFAULT_MENU_FILE, load_kb(KB_FOLDER).ids()).prompt


def test_prompt_catalog_texts_are_phone_sentences() -> None:
    for key, text in PROMPT_TEXTS.items():
        assert text.strip() == text and text, key
        assert "http" not in text and "www" not in text, key
    assert PROMPT_TEXTS["confirm"] == "Est-ce que cette réponse vous a aidé ? Si oui, tapez 1. Si non, tapez 2."
    assert PROMPT_TEXTS["dossier_enter"].startswith("Tapez votre numéro de dossier à 8 chiffres, puis la touche dièse.")
    assert "dites-nous en quelques mots" in PROMPT_TEXTS["speech_hint"].lower()
