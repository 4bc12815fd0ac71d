"""Load the knowledge base: all files or none, with errors that name the file, entry, field and reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from pydantic import ValidationError

from kb.schema import Entry, TopicFile


@dataclass(frozen=True)
class KbError:
    """One problem found in the KB files."""

    file: str
    entry: str | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.entry:
            where += f" › {self.entry}"
        if self.field:
            where += f" › {self.field}"
        return f"{where}: {self.reason}"


class KbInvalid(Exception):
    """The KB files hold errors; nothing was loaded."""

    def __init__(self, errors: list[KbError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} error(s) in the knowledge base:\n" + "\n".join(map(str, errors)))


@dataclass(frozen=True)
class KnowledgeBase:
    """The validated entries, in file order."""

    entries: tuple[Entry, ...]

    def get(self, entry_id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def ids(self) -> list[str]:
        return [e.id for e in self.entries]

    def valid_on(self, day: date) -> KnowledgeBase:
        """The entries whose validity window holds that day."""
        return KnowledgeBase(tuple(e for e in self.entries if e.is_valid_on(day)))


def _field_path(loc: Iterable[int | str]) -> str | None:
    parts = [str(p) for p in loc]
    return ".".join(parts) or None


def _load_file(path: Path, errors: list[KbError]) -> list[Entry]:
    name = path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        errors.append(KbError(name, None, None, f"not UTF-8 text ({exc.reason})"))
        return []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        errors.append(KbError(name, None, None, f"not valid YAML{at}: {getattr(exc, 'problem', exc)}"))
        return []
    if not isinstance(raw, dict):
        errors.append(KbError(name, None, None, "expected a mapping with 'topic' and 'entries'"))
        return []
    try:
        topic_file = TopicFile.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            errors.append(KbError(name, None, _field_path(err["loc"]), err["msg"]))
        return []
    if path.stem != topic_file.topic:
        errors.append(KbError(name, None, "topic", f"file name must be {topic_file.topic}.yaml"))
    entries: list[Entry] = []
    for index, item in enumerate(topic_file.entries):
        label = str(item.get("id") or f"entry #{index + 1}") if isinstance(item, dict) else f"entry #{index + 1}"
        if not isinstance(item, dict):
            errors.append(KbError(name, label, None, "an entry must be a mapping"))
            continue
        data = {"topic": topic_file.topic, **item}
        if topic_file.service and "service" not in data:
            data["service"] = topic_file.service
        try:
            entries.append(Entry.model_validate(data))
        except ValidationError as exc:
            for err in exc.errors():
                errors.append(KbError(name, label, _field_path(err["loc"]), err["msg"]))
    return entries


def load_kb(folder: Path) -> KnowledgeBase:
    """Every `*.yaml` file of the folder, validated together. Raises KbInvalid listing every problem."""
    errors: list[KbError] = []
    if not folder.is_dir():
        raise KbInvalid([KbError(str(folder), None, None, "no such folder")])
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise KbInvalid([KbError(str(folder), None, None, "no .yaml file in the folder")])
    entries: list[Entry] = []
    for path in files:
        entries.extend(_load_file(path, errors))
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.id in seen:
            errors.append(KbError(entry.topic + ".yaml", entry.id, "id", f"duplicate id, also in {seen[entry.id]}"))
        seen.setdefault(entry.id, entry.topic + ".yaml")
    if errors:
        raise KbInvalid(errors)
    return KnowledgeBase(tuple(entries))


OUT_OF_SCOPE_FILE = Path(__file__).with_name("out_of_scope.yaml")
MIN_OUT_OF_SCOPE_EXAMPLES = 3


@dataclass(frozen=True)
class OutOfScopeGroup:
    """Examples of one kind of request the city does not handle (or talk that is no request)."""

    name: str
    examples: tuple[str, ...]


def load_out_of_scope(path: Path = OUT_OF_SCOPE_FILE) -> tuple[OutOfScopeGroup, ...]:
    """The out-of-scope examples; raises KbInvalid with the file, group and reason."""
    name = path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KbInvalid([KbError(name, None, None, f"cannot read: {exc}")]) from exc
    groups_raw = raw.get("groups") if isinstance(raw, dict) else None
    if not isinstance(groups_raw, list):
        raise KbInvalid([KbError(name, None, "groups", "expected a list of groups")])
    errors: list[KbError] = []
    groups: list[OutOfScopeGroup] = []
    for index, group in enumerate(groups_raw, start=1):
        label = str(group.get("name")) if isinstance(group, dict) and group.get("name") else f"group #{index}"
        examples = group.get("examples") if isinstance(group, dict) else None
        if not isinstance(examples, list) or not all(isinstance(e, str) and e.strip() for e in examples):
            errors.append(KbError(name, label, "examples", "expected a list of non-empty sentences"))
        elif len(examples) < MIN_OUT_OF_SCOPE_EXAMPLES:
            errors.append(KbError(name, label, "examples", f"at least {MIN_OUT_OF_SCOPE_EXAMPLES} examples"))
        else:
            groups.append(OutOfScopeGroup(label, tuple(examples)))
    if errors:
        raise KbInvalid(errors)
    return tuple(groups)
