"""The shape of a knowledge-base entry, with the rules that keep spoken answers phone-friendly."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+(?:-[a-z0-9]+)*$"
MIN_QUESTIONS = 5  # fewer variants give the matcher too little to generalise from
# French read aloud on the phone runs at about 2.5 words a second: 115 words is about 45 s.
MAX_SPOKEN_WORDS = 115
_URL_IN_SPEECH = re.compile(r"https?://|www\.|\b[\w-]+\.(?:fr|com|org|net|gouv|eu)\b", re.IGNORECASE)


class Action(StrEnum):
    """What the IVR does once an entry is matched."""

    ANSWER = "answer"  # read the spoken answer, then ask whether it helped
    TRANSFER = "transfer"  # put the caller through to an agent
    TICKET_STATUS = "ticket_status"  # ask for a dossier number and read its status
    REPORT = "report"  # take a report (pothole, missed bin...) as a ticket for the owning service
    CALLBACK = "callback"  # offer to be called back by the owning service


class Entry(BaseModel):
    """One question the city answers, in the words callers use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    topic: str
    title: str = Field(min_length=3)
    questions: tuple[str, ...] = Field(min_length=MIN_QUESTIONS)
    spoken_answer: str = Field(min_length=10)
    web_answer: str = Field(min_length=10)
    keywords: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    action: Action = Action.ANSWER
    crisis: bool = False
    priority: int = Field(50, ge=0, le=100)
    valid_from: date | None = None
    valid_until: date | None = None
    service: str = Field(min_length=2)
    audio: str | None = None  # a staff-recorded answer file, preferred to TTS

    @field_validator("questions")
    @classmethod
    def _distinct_questions(cls, questions: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for question in questions:
            key = question.strip().lower()
            if not key:
                raise ValueError("a question variant is empty")
            if key in seen:
                raise ValueError(f"question variant repeated: {question!r}")
            seen.add(key)
        return questions

    @field_validator("spoken_answer")
    @classmethod
    def _phone_friendly(cls, text: str) -> str:
        words = len(text.split())
        if words > MAX_SPOKEN_WORDS:
            raise ValueError(f"{words} words is longer than about 45 s read aloud (at most {MAX_SPOKEN_WORDS} words)")
        if _URL_IN_SPEECH.search(text):
            raise ValueError("a spoken answer must not spell out a web address; put it in web_answer")
        return text

    @model_validator(mode="after")
    def _consistent(self) -> Entry:
        if self.id.split(".", 1)[0] != self.topic:
            raise ValueError(f"id {self.id!r} must start with its topic {self.topic!r}")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self

    def is_valid_on(self, day: date) -> bool:
        """Whether the entry applies on that day (its validity window holds it)."""
        if self.valid_from and day < self.valid_from:
            return False
        return not (self.valid_until and day > self.valid_until)


class TopicFile(BaseModel):
    """One YAML file: one topic and its entries."""

    model_config = ConfigDict(extra="forbid")

    topic: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    service: str | None = None  # default owning service for the file's entries
    entries: list[dict[str, object]] = Field(min_length=1)
