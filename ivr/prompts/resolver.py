"""Media items to Asterisk media URIs, for POST /channels/{id}/play?media=...

Choices, best first:
- a catalog prompt or free text: the human recording whose transcript is the same sentence (asterisk-core-
  sounds-fr), else cached TTS;
- a FAQ answer: the staff-recorded file (Entry.audio), converted into the prompts folder, else cached TTS of
  its spoken_answer (also when the file is missing or unreadable: a robot voice beats silence; warm_all()
  reports the problem at startup);
- digits and numbers: Asterisk's own French digit recordings (`digits:`, `number:`).

One voice per playback: a playback built from several items (a reprompt and the menu; "votre numéro de dossier
est le", the digits, goodbye) plays their recordings only when every item has one; otherwise its whole text,
digits included, is synthesised as one sentence, so a caller never hears two voices in one breath
(`one_voice`). Each item is first described as a `Part` (its text, and its recordings when it has some).

Every method returns a list of URIs, played in order. The sync methods may synthesise (tens of ms, blocking);
async code uses the `a*` methods, which run them in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ivr.prompts.cache import TtsCache, WarmReport
from ivr.prompts.recorded import RecordedCatalog
from ivr.prompts.tts import TtsError
from kb.loader import KnowledgeBase

log = logging.getLogger(__name__)

_DIGITS = re.compile(r"^[0-9*#]+$")  # what Asterisk's digits: playback says (keypad symbols included)
# Digits as TTS reads them inside a sentence: one word each, commas so each is heard apart, as the digits: path does.
DIGIT_WORDS = {
    "0": "zéro",
    "1": "un",
    "2": "deux",
    "3": "trois",
    "4": "quatre",
    "5": "cinq",
    "6": "six",
    "7": "sept",
    "8": "huit",
    "9": "neuf",
    "*": "étoile",
    "#": "dièse",
}
_ENDS_A_CLAUSE = ".!?…:;,"  # a part ending so needs no full stop before the next sentence

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
    together: WarmReport = field(default_factory=lambda: WarmReport(0, 0))  # prompts played as one sentence

    @property
    def ok(self) -> bool:
        return not (self.prompts.failed or self.answers.failed or self.together.failed or self.staff_audio_failed)

    def summary(self) -> str:
        failures = len(self.prompts.failed) + len(self.answers.failed) + len(self.together.failed)
        return (
            f"prompts: {self.recorded_prompts} recorded, {self.prompts.generated} synthesised, "
            f"{self.prompts.cached} cached (ready at {self.prompts.seconds:.2f} s); answers: {self.staff_audio} "
            f"recorded by staff, {self.answers.generated} synthesised, {self.answers.cached} cached "
            f"(ready at {self.answers.seconds:.2f} s); prompts played together: {self.together.generated} "
            f"synthesised, {self.together.cached} cached (ready at {self.together.seconds:.2f} s); failures: "
            f"{failures + len(self.staff_audio_failed)}; total {self.seconds:.2f} s"
        )


@dataclass(frozen=True)
class Part:
    """One media item of a playback: what it says, and its recordings when a recording says the whole item."""

    text: str
    recordings: tuple[str, ...] | None = None
    fixed: bool = False  # an uploaded recording: played as is, the parts around it keep their own voice


_SOUND_NAME = re.compile(r"^[a-z0-9_-]+/[A-Za-z0-9_-]+$")


def _runs(parts: Sequence[Part]) -> list[list[Part] | Part]:
    """The parts cut at each fixed part: lists of ordinary parts, and the fixed parts alone."""
    out: list[list[Part] | Part] = []
    for part in parts:
        if part.fixed:
            out.append(part)
        elif out and isinstance(out[-1], list):
            out[-1].append(part)
        else:
            out.append([part])
    return out


def spoken_as_one(texts: Iterable[str]) -> str:
    """The parts' texts as one text to synthesise: a full stop between two sentences that lack one."""
    spoken = ""
    for text in texts:
        text = " ".join(text.split())
        if not text:
            continue
        if spoken and spoken[-1] not in _ENDS_A_CLAUSE and text[0].isupper():
            spoken += "."
        spoken = f"{spoken} {text}" if spoken else text
    return spoken


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
        played_together: Iterable[Sequence[str]] = (),
    ) -> None:
        self.prompt_texts = prompt_texts
        # Catalog keys the flow plays as one playback (a reprompt and the menu...): warmed as one sentence too.
        self.played_together = tuple(tuple(keys) for keys in played_together)
        self.cache = cache
        self.kb_answers = kb_answers
        self.recorded = recorded_catalog if recorded_catalog is not None else RecordedCatalog.empty()
        self.audio_base_dir = audio_base_dir  # for relative Entry.audio paths

    # ---- One part per media item

    def prompt_part(self, key: str) -> Part:
        """A catalog sentence, with its recording if one says exactly that."""
        try:
            text = self.prompt_texts[key]
        except KeyError:
            raise UnknownPrompt(key) from None
        return self.say_part(text)

    def say_part(self, text: str) -> Part:
        """Free French text, with a recording if one says exactly that."""
        name = self.recorded.find(text)
        return Part(text, (self.recorded.uri(name),) if name is not None else None)

    def sound_part(self, name: str) -> Part:
        """A recording staff uploaded, by its name in the prompts folder (e.g. uploads/<key>)."""
        if not _SOUND_NAME.match(name):
            raise ValueError(f"an uploaded recording's name is <folder>/<key>, got {name!r}")
        return Part("", (self.cache.uri_for_key(*name.split("/")),), fixed=True)

    def digits_part(self, digits: str) -> Part:
        """Digits read one by one: Asterisk's French digit recordings, or the digits as words."""
        if not _DIGITS.match(digits):
            raise ValueError(f"digits to read must be 0-9, * or #, got {digits!r}")
        return Part(", ".join(DIGIT_WORDS[d] for d in digits), (f"digits:{digits}",))

    def number_part(self, n: int) -> Part:
        """A number read as a number ("vingt-trois"): Asterisk's French number recordings, or its figures."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"a number to read must be an int, got {n!r}")
        return Part(str(n), (f"number:{n}",))

    def faq_answer_part(self, faq_id: str) -> Part:
        """A KB answer: the staff recording when there is one (converted now if need be), else its text."""
        try:
            spoken, audio = self.kb_answers[faq_id]
        except KeyError:
            raise UnknownFaq(faq_id) from None
        if audio:
            try:
                return Part(spoken, (self.cache.import_audio(self._audio_path(audio)),))
            except (TtsError, OSError) as exc:
                log.error("recorded answer of %s unusable, reading it by TTS instead: %s", faq_id, exc)
        return self.say_part(spoken)

    # ---- One playback, one voice

    def tts_text(self, parts: Sequence[Part]) -> str | None:
        """The text to synthesise for these parts played together, or None when they are all recordings."""
        if all(part.recordings is not None for part in parts):
            return None
        return spoken_as_one(part.text for part in parts)

    def ready(self, parts: Sequence[Part]) -> list[str] | None:
        """The parts' URIs when nothing needs synthesising now (recordings, or TTS already cached), else None."""
        if any(part.fixed for part in parts):
            runs = [self.ready(run) if isinstance(run, list) else list(run.recordings or ()) for run in _runs(parts)]
            return None if any(r is None for r in runs) else [uri for r in runs for uri in r or ()]
        text = self.tts_text(parts)
        if text is None:
            return [uri for part in parts for uri in part.recordings or ()]
        return [self.cache.uri_for(text)] if text and self.cache.is_cached(text) else None

    def one_voice(self, parts: Sequence[Part]) -> list[str]:
        """The parts played together: their recordings if every part has one, else one synthesised sentence
        of their whole text (blocking when it must be synthesised). An uploaded recording splits them: the
        parts before it and after it are each one voice. Raises TtsError."""
        if any(part.fixed for part in parts):
            return [
                uri
                for run in _runs(parts)
                for uri in (self.one_voice(run) if isinstance(run, list) else run.recordings or ())
            ]
        text = self.tts_text(parts)
        if text is None:
            return [uri for part in parts for uri in part.recordings or ()]
        return [self.cache.get(text)]

    # ---- One method per media item, played alone

    def prompt(self, key: str) -> list[str]:
        """A catalog sentence: its recording if one says exactly that, else TTS."""
        return self.one_voice([self.prompt_part(key)])

    def say(self, text: str) -> list[str]:
        """Free French text: a recording if one says exactly that, else TTS. Raises TtsError."""
        return self.one_voice([self.say_part(text)])

    def digits(self, digits: str) -> list[str]:
        """Digits read one by one ("1 2 3"), by Asterisk's French digit recordings."""
        return self.one_voice([self.digits_part(digits)])

    def number(self, n: int) -> list[str]:
        """A number read as a number ("vingt-trois"), by Asterisk's French number recordings."""
        return self.one_voice([self.number_part(n)])

    def faq_answer(self, faq_id: str) -> list[str]:
        """A KB answer: the staff recording when there is one, else TTS of the spoken answer."""
        return self.one_voice([self.faq_answer_part(faq_id)])

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
        together_tts = [self.tts_text([self.prompt_part(key) for key in keys]) for keys in self.played_together]

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
        # One pool; the single prompts and the answers first, the combinations of prompts last.
        prompts_report, answers_report, together_report = self.cache.warm_groups(
            [prompt_tts, answer_tts, [text for text in together_tts if text is not None]]
        )
        report = WarmAllReport(
            prompts=prompts_report,
            recorded_prompts=recorded_prompts,
            answers=answers_report,
            together=together_report,
            staff_audio=staff_audio,
            staff_audio_failed=staff_failed,
            seconds=time.perf_counter() - started,
        )
        log.info("prompt audio ready: %s", report.summary())
        return report

    async def awarm_all(self) -> WarmAllReport:
        return await asyncio.to_thread(self.warm_all)
