"""Media items to Asterisk media URIs, for POST /channels/{id}/play?media=...

Choices, best first:
- a catalog prompt or free text: the human recording whose transcript is the same sentence (asterisk-core-
  sounds-fr), else cached TTS;
- a FAQ answer: the staff-recorded file (Entry.audio), converted into the prompts folder, else cached TTS of
  its spoken_answer (also when the file is missing or unreadable: a robot voice beats silence; warm_all()
  reports the problem at startup);
- digits and numbers: Asterisk's own French digit recordings (`digits:`, `number:`).

Every method returns a list of URIs, played in order. The sync methods may synthesise (tens of ms, blocking);
async code uses the `a*` methods, which run them in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ivr.prompts.cache import TtsCache, WarmReport
from ivr.prompts.recorded import RecordedCatalog
from ivr.prompts.tts import TtsError
from kb.loader import KnowledgeBase

log = logging.getLogger(__name__)

_DIGITS = re.compile(r"^[0-9*#]+$")  # what Asterisk's digits: playback says (keypad symbols included)

# faq_id → (spoken_answer, staff-recorded audio file or None)
KbAnswers = Mapping[str, tuple[str, str | None]]


class UnknownPrompt(KeyError):
    """The flow asked for a prompt key the catalog does not have."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"unknown prompt key {self.key!r} (not in the prompt catalog)"


class UnknownFaq(KeyError):
    """The flow asked for the answer of a FAQ id the knowledge base does not have."""

    def __init__(self, faq_id: str) -> None:
        super().__init__(faq_id)
        self.faq_id = faq_id

    def __str__(self) -> str:
        return f"unknown FAQ id {self.faq_id!r} (not in the knowledge base)"


def kb_answers_from(kb: KnowledgeBase, audio_base_dir: Path | None = None) -> dict[str, tuple[str, str | None]]:
    """The resolver's view of the knowledge base. Relative audio paths are taken from `audio_base_dir`."""
    answers: dict[str, tuple[str, str | None]] = {}
    for entry in kb.entries:
        audio = entry.audio
        if audio and audio_base_dir is not None and not Path(audio).is_absolute():
            audio = str(audio_base_dir / audio)
        answers[entry.id] = (entry.spoken_answer, audio)
    return answers


@dataclass(frozen=True)
class WarmAllReport:
    """What warm_all() did, with timings per part."""

    prompts: WarmReport  # catalog prompts without a recording
    recorded_prompts: int  # catalog prompts played from a human recording (nothing to synthesise)
    answers: WarmReport  # KB answers by TTS
    staff_audio: int  # KB answers from a staff recording, converted
    staff_audio_failed: dict[str, str] = field(default_factory=dict)  # faq id → error (falls back to TTS)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.prompts.failed or self.answers.failed or self.staff_audio_failed)

    def summary(self) -> str:
        return (
            f"prompts: {self.recorded_prompts} recorded, {self.prompts.generated} synthesised, "
            f"{self.prompts.cached} cached ({self.prompts.seconds:.2f} s); answers: {self.staff_audio} recorded "
            f"by staff, {self.answers.generated} synthesised, {self.answers.cached} cached "
            f"({self.answers.seconds:.2f} s); failures: "
            f"{len(self.prompts.failed) + len(self.answers.failed) + len(self.staff_audio_failed)}; "
            f"total {self.seconds:.2f} s"
        )


class PromptResolver:
    """Turns the flow's media items into Asterisk media URIs."""

    def __init__(
        self,
        prompt_texts: Mapping[str, str],
        cache: TtsCache,
        kb_answers: KbAnswers,
        recorded_catalog: RecordedCatalog | None = None,
        *,
        audio_base_dir: Path | None = None,
    ) -> None:
        self.prompt_texts = prompt_texts
        self.cache = cache
        self.kb_answers = kb_answers
        self.recorded = recorded_catalog if recorded_catalog is not None else RecordedCatalog.empty()
        self.audio_base_dir = audio_base_dir  # for relative Entry.audio paths

    # ---- One method per media item

    def prompt(self, key: str) -> list[str]:
        """A catalog sentence: its recording if one says exactly that, else TTS."""
        try:
            text = self.prompt_texts[key]
        except KeyError:
            raise UnknownPrompt(key) from None
        return self.say(text)

    def say(self, text: str) -> list[str]:
        """Free French text: a recording if one says exactly that, else TTS. Raises TtsError."""
        name = self.recorded.find(text)
        if name is not None:
            return [self.recorded.uri(name)]
        return [self.cache.get(text)]

    def digits(self, digits: str) -> list[str]:
        """Digits read one by one ("1 2 3"), by Asterisk's French digit recordings."""
        if not _DIGITS.match(digits):
            raise ValueError(f"digits to read must be 0-9, * or #, got {digits!r}")
        return [f"digits:{digits}"]

    def number(self, n: int) -> list[str]:
        """A number read as a number ("vingt-trois"), by Asterisk's French number recordings."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"a number to read must be an int, got {n!r}")
        return [f"number:{n}"]

    def faq_answer(self, faq_id: str) -> list[str]:
        """A KB answer: the staff recording when there is one, else TTS of the spoken answer."""
        try:
            spoken, audio = self.kb_answers[faq_id]
        except KeyError:
            raise UnknownFaq(faq_id) from None
        if audio:
            try:
                return [self.cache.import_audio(self._audio_path(audio))]
            except (TtsError, OSError) as exc:
                log.error("recorded answer of %s unusable, reading it by TTS instead: %s", faq_id, exc)
        return self.say(spoken)

    def _audio_path(self, audio: str) -> Path:
        path = Path(audio)
        if not path.is_absolute() and self.audio_base_dir is not None:
            path = self.audio_base_dir / path
        return path

    # ---- Async: the same, in a worker thread

    async def aprompt(self, key: str) -> list[str]:
        return await asyncio.to_thread(self.prompt, key)

    async def asay(self, text: str) -> list[str]:
        return await asyncio.to_thread(self.say, text)

    async def afaq_answer(self, faq_id: str) -> list[str]:
        return await asyncio.to_thread(self.faq_answer, faq_id)

    # ---- Startup

    def warm_all(self) -> WarmAllReport:
        """Pre-generate every catalog prompt and every KB answer, so no caller waits for synthesis."""
        started = time.perf_counter()
        prompt_tts = [t for t in self.prompt_texts.values() if self.recorded.find(t) is None]
        recorded_prompts = len(self.prompt_texts) - len(prompt_tts)
        prompts_report = self.cache.warm(prompt_tts)

        answer_tts: list[str] = []
        staff_audio = 0
        staff_failed: dict[str, str] = {}
        for faq_id, (spoken, audio) in self.kb_answers.items():
            if audio:
                try:
                    self.cache.import_audio(self._audio_path(audio))
                    staff_audio += 1
                    continue
                except (TtsError, OSError) as exc:
                    log.error("recorded answer of %s unusable, TTS instead: %s", faq_id, exc)
                    staff_failed[faq_id] = str(exc)
            if self.recorded.find(spoken) is None:
                answer_tts.append(spoken)
        answers_report = self.cache.warm(answer_tts)
        report = WarmAllReport(
            prompts=prompts_report,
            recorded_prompts=recorded_prompts,
            answers=answers_report,
            staff_audio=staff_audio,
            staff_audio_failed=staff_failed,
            seconds=time.perf_counter() - started,
        )
        log.info("prompt audio ready: %s", report.summary())
        return report

    async def awarm_all(self) -> WarmAllReport:
        return await asyncio.to_thread(self.warm_all)
