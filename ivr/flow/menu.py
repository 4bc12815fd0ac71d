"""The main menu: keypad digits mapped to knowledge-base entries, loaded from YAML and checked against the KB."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_MENU_FILE = Path(__file__).with_name("menu.yaml")
DOSSIER_TARGET = "dossier"  # the special choice: follow up a request by its dossier number
CHOICE_DIGITS = "123456789"  # 0 is always a person and * always repeats, in every step of the call
HUMAN_DIGIT = "0"
_ANNOUNCED_DIGIT = re.compile(r"\b(?:tapez|appuyez sur(?: la touche)?)\s+(\d)\b", re.IGNORECASE)
_ANNOUNCED_REPEAT = re.compile(r"\bétoile\b", re.IGNORECASE)
_KNOWN_KEYS = frozenset({"prompt", "choices"})


class MenuInvalid(ValueError):
    """The menu file is wrong; every problem found is listed."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{path.name}: {len(problems)} problem(s) in the menu:\n" + "\n".join(problems))


@dataclass(frozen=True, slots=True)
class MenuChoice:
    digit: str
    target: str  # a knowledge-base entry id, or DOSSIER_TARGET

    @property
    def faq_id(self) -> str | None:
        return None if self.target == DOSSIER_TARGET else self.target


@dataclass(frozen=True, slots=True)
class Menu:
    prompt: str  # the French text of Prompt("menu")
    choices: tuple[MenuChoice, ...]  # in digit order

    def by_digit(self) -> dict[str, MenuChoice]:
        return {choice.digit: choice for choice in self.choices}


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a repeated key is an error instead of silently keeping the last one."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[object, object]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice", key_node.start_mark)
        seen.add(key)
    return dict(loader.construct_mapping(node))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _read(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MenuInvalid(path, [f"cannot read the file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise MenuInvalid(path, [f"not UTF-8 text ({exc.reason})"]) from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise MenuInvalid(path, [f"not valid YAML{at}: {getattr(exc, 'problem', exc)}"]) from exc


def _check_prompt(prompt: object, digits: set[str], problems: list[str]) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        problems.append("prompt: expected the French text of the menu")
        return ""
    announced = set(_ANNOUNCED_DIGIT.findall(prompt))
    for digit in sorted(digits - announced):
        problems.append(f'prompt: does not announce choice {digit} (say "tapez {digit}")')
    for digit in sorted(announced - digits - {HUMAN_DIGIT}):
        problems.append(f'prompt: announces "tapez {digit}" but {digit} is not a choice')
    if HUMAN_DIGIT not in announced:
        problems.append('prompt: must say how to reach a person ("tapez 0")')
    if not _ANNOUNCED_REPEAT.search(prompt):
        problems.append('prompt: must say how to hear it again ("appuyez sur la touche étoile")')
    return " ".join(prompt.split())


def _check_choices(raw: object, kb_ids: Collection[str], problems: list[str]) -> list[MenuChoice]:
    if not isinstance(raw, Mapping) or not raw:
        problems.append('choices: expected a mapping of digits to entry ids, e.g. "1": mairie.horaires')
        return []
    choices: list[MenuChoice] = []
    targets: dict[str, str] = {}
    for key, target in raw.items():
        digit = str(key)
        if digit == HUMAN_DIGIT:
            problems.append("choices: 0 is reserved: it reaches a person from every step of the call")
            continue
        if digit not in CHOICE_DIGITS or len(digit) != 1:
            problems.append(f"choices: {key!r} is not a digit from 1 to 9")
            continue
        if not isinstance(target, str) or not target.strip():
            problems.append(f"choices › {digit}: expected an entry id or {DOSSIER_TARGET!r}")
            continue
        if target != DOSSIER_TARGET and target not in kb_ids:
            problems.append(f"choices › {digit}: unknown knowledge-base entry {target!r}")
            continue
        if target in targets:
            problems.append(f"choices › {digit}: {target!r} is already choice {targets[target]}")
            continue
        targets[target] = digit
        choices.append(MenuChoice(digit, target))
    return sorted(choices, key=lambda choice: choice.digit)


def load_menu(path: Path, kb_ids: Collection[str]) -> Menu:
    """The menu in `path`, checked against the knowledge-base ids. Raises MenuInvalid listing every problem."""
    raw = _read(path)
    if not isinstance(raw, Mapping):
        raise MenuInvalid(path, ["expected a mapping with 'prompt' and 'choices'"])
    problems = [f"unknown key {key!r} (expected: prompt, choices)" for key in raw if key not in _KNOWN_KEYS]
    choices = _check_choices(raw.get("choices"), kb_ids, problems)
    raw_choices = raw.get("choices")
    keys = {str(key) for key in raw_choices} if isinstance(raw_choices, Mapping) else set()
    prompt = _check_prompt(raw.get("prompt"), {key for key in keys if len(key) == 1 and key in CHOICE_DIGITS}, problems)
    if problems:
        raise MenuInvalid(path, problems)
    return Menu(prompt, tuple(choices))


def read_menu_prompt(path: Path = DEFAULT_MENU_FILE) -> str:
    """Only the prompt text of a menu file (for the prompt catalog), without checking it against the KB."""
    raw = _read(path)
    prompt = raw.get("prompt") if isinstance(raw, Mapping) else None
    if not isinstance(prompt, str) or not prompt.strip():
        raise MenuInvalid(path, ["prompt: expected the French text of the menu"])
    return " ".join(prompt.split())
