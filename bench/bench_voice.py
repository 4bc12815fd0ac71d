"""`hotline bench voice`: how well callers can understand the hotline's synthetic voice. Prints tables; asserts nothing.

For the whole prompt catalogue and every knowledge-base answer, per TTS engine: render time (cold cache), total
audio, and intelligibility as the word error rate of whisper-base transcribing the rendered 8 kHz audio back. Each
text is rendered exactly as a caller hears it (`TtsCache` with the French text preparation), into a fresh folder.

The reference is the prepared text (what the voice was asked to say, numbers in words); the transcript is put
through the same preparation, so "8 h 30" from whisper and "huit heures trente" count as the same words.

Two figures per group: the plain WER, and the WER "by sound", where words a French ear cannot tell apart count
as the same ("tapez" / "tapé", "traitée" / "traité", "service" / "services": see `sound_of`), since a caller
hears sounds, not spelling. Audio longer than a sentence or two is transcribed in pieces cut at its pauses:
given a whole 40-60 s answer, whisper-base skips entire windows of it, which says nothing of the voice.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.tables import Column, Report, Table
from hotline.settings import Settings
from ivr.flow.prompts import PLAYED_TOGETHER, PROMPT_TEXTS
from ivr.prompts.cache import TtsCache, normalise_text
from ivr.prompts.french_text import speakable
from ivr.prompts.resolver import PromptResolver, kb_answers_from
from ivr.prompts.tts import PHONE_SAMPLE_RATE_HZ, TtsEngine, engine_named
from ivr.speech import wer
from ivr.speech.audio import read_wav, resample, to_pcm16
from ivr.speech.recognizer import Recognizer, make_recognizer
from kb.loader import KnowledgeBase

ENGINES = ("pico", "espeak")
FEED_CHUNK_S = 0.02  # 20 ms frames, as a call feeds the recogniser
PIECE_MAX_S = 15.0  # a piece of audio given to whisper at once: well inside its 30 s window
PAUSE_MIN_S = 0.2  # a silence this long is a pause between sentences or phrases, where a piece may end
PAUSE_LEVEL = 0.003  # of full scale (about -50 dBFS): quieter 20 ms frames are silence


@dataclass(frozen=True)
class Rendered:
    text: str  # as written in the catalogue or the KB
    spoken: str  # as the voice was asked to say it
    heard: str  # what whisper-base made of the audio
    render_s: float
    audio_s: float


@dataclass(frozen=True)
class GroupResult:
    engine: str  # as HOTLINE_TTS_ENGINE names it
    group: str
    items: tuple[Rendered, ...]

    @property
    def wer(self) -> float:
        return wer.wer((r.spoken, speakable(r.heard)) for r in self.items)

    @property
    def sound_wer(self) -> float:
        return wer.wer((by_sound(r.spoken), by_sound(speakable(r.heard))) for r in self.items)

    @property
    def words(self) -> int:
        return sum(len(wer.words(r.spoken)) for r in self.items)


# Written endings French pronounces alike: "-ez", "-er", "-ée", "-é" are all [e] ("tapez" / "tapé").
_E_SOUND = re.compile(r"(?<=\w\w)(?:ez|er|ée|é)$")
# A final mute "e" after a consonant ("municipale" / "municipal", "valide" / "valid").
_MUTE_E = re.compile(r"(?<=\w\w[bcdfghjklmnpqrstvwz])e$")


# Short words spelt apart but said alike; whisper picks one spelling or the other.
_SAME_SOUND = {"a": "à", "aux": "au", "où": "ou", "vin": "vingt", "sans": "cent", "non": "nom"}


def sound_of(word: str) -> str:
    """A key that is equal for words a French ear hears alike, in the common cases of written-only endings:
    a plural "s" or "x", the [e] endings, a mute final "e", and a few short homophones ("a" / "à").
    Deliberately narrow: "pour" and "pourrie" stay apart."""
    word = _SAME_SOUND.get(word, word)
    if len(word) > 3 and word[-1] in "sx":
        word = word[:-1]
    return _MUTE_E.sub("", _E_SOUND.sub("é", word))


def by_sound(text: str) -> str:
    return " ".join(sound_of(w) for w in wer.words(text))


def catalogue_texts() -> list[str]:
    """Every sentence of the prompt catalogue (the menu included)."""
    return list(dict.fromkeys(t for t in PROMPT_TEXTS.values() if normalise_text(t)))


def answer_texts(kb: KnowledgeBase) -> list[str]:
    return [entry.spoken_answer for entry in kb.entries]


def pieces_at_pauses(samples: npt.NDArray[np.float32], rate: int) -> list[npt.NDArray[np.float32]]:
    """`samples` cut at pauses into pieces of at most PIECE_MAX_S (longer only where no pause falls)."""
    frame = int(rate * FEED_CHUNK_S)
    frames = len(samples) // frame
    if frames == 0:
        return [samples]
    rms = np.sqrt(np.mean(samples[: frames * frame].reshape(frames, frame) ** 2, axis=1))
    quiet = rms < PAUSE_LEVEL
    run_needed = int(PAUSE_MIN_S / FEED_CHUNK_S)
    cuts: list[int] = []  # frame indices in the middle of pauses
    run = 0
    for i, q in enumerate(quiet):
        run = run + 1 if q else 0
        if run == run_needed:
            cuts.append(i - run_needed // 2)
    pieces: list[npt.NDArray[np.float32]] = []
    start = 0
    limit = int(PIECE_MAX_S / FEED_CHUNK_S)
    for k, cut in enumerate(cuts):
        following = cuts[k + 1] if k + 1 < len(cuts) else frames
        if following - start > limit:  # the next stretch would be too long: end the piece here
            pieces.append(samples[start * frame : cut * frame])
            start = cut
    pieces.append(samples[start * frame :])
    return [p for p in pieces if len(p)]


def transcribe(recognizer: Recognizer, wav: Path) -> tuple[str, float]:
    audio = read_wav(wav)
    samples = resample(audio.samples, audio.rate, recognizer.sample_rate)
    texts: list[str] = []
    for piece in pieces_at_pauses(samples, recognizer.sample_rate):
        pcm = to_pcm16(piece)
        stream = recognizer.open_stream()
        step = int(recognizer.sample_rate * FEED_CHUNK_S) * 2
        for start in range(0, len(pcm), step):
            stream.feed(pcm[start : start + step])
        texts.append(stream.final().text)
        stream.close()
    return " ".join(t.strip() for t in texts if t.strip()), audio.seconds


def render_group(
    name: str, engine: TtsEngine, recognizer: Recognizer, group: str, texts: Iterable[str], folder: Path
) -> GroupResult:
    cache = TtsCache(engine, folder, "/prompts", prepare=speakable)
    items: list[Rendered] = []
    for text in texts:
        started = time.perf_counter()
        cache.get(text)
        render_s = time.perf_counter() - started
        heard, seconds = transcribe(recognizer, cache.path_for(text))
        items.append(Rendered(text, cache.prepared(text), heard, render_s, seconds))
    return GroupResult(name, group, tuple(items))


def measure(
    settings: Settings,
    groups: dict[str, list[str]],
    engines: Iterable[str] = ENGINES,
    log: Callable[[str], None] = lambda _m: None,
) -> list[GroupResult]:
    recognizer = make_recognizer(settings, pool_size=1)
    results: list[GroupResult] = []
    for name in engines:
        engine = engine_named(name)
        if name == "pico" and engine.name != "pico":
            log(f"pico: not installed here, skipped (the hotline would fall back to {engine.name})")
            continue
        for group, texts in groups.items():
            with tempfile.TemporaryDirectory(prefix="hotline-bench-voice-") as folder:
                log(f"{name}: rendering and transcribing {len(texts)} texts ({group})")
                result = render_group(name, engine, recognizer, group, texts, Path(folder))
                results.append(result)
                log(
                    f"{name} {group}: WER {100 * result.wer:.1f} % ({100 * result.sound_wer:.1f} % by sound) "
                    f"over {result.words} words"
                )
    return results


@dataclass(frozen=True)
class WarmUp:
    engine: str
    prompts_s: float  # the catalogue ready
    answers_s: float  # and every KB answer
    together_s: float  # and the prompts the flow plays together
    cached_s: float  # a restart: everything already on disk


def warm_up(name: str, kb: KnowledgeBase, kb_folder: Path) -> WarmUp:
    """What `hotline serve` renders at start, in a fresh folder (its thread pool, as in the service), then again."""
    engine = engine_named(name)
    with tempfile.TemporaryDirectory(prefix="hotline-bench-warm-") as folder:
        cache = TtsCache(engine, Path(folder), "/prompts", prepare=speakable)
        resolver = PromptResolver(PROMPT_TEXTS, cache, kb_answers_from(kb, kb_folder), played_together=PLAYED_TOGETHER)
        first = resolver.warm_all()
        again = resolver.warm_all()
    return WarmUp(name, first.prompts.seconds, first.answers.seconds, first.together.seconds, again.seconds)


def warm_up_table(warm_ups: list[WarmUp]) -> Table:
    table = Table(
        "warm_up",
        "start-up rendering (the service's thread pool, a fresh prompts folder): seconds until ready",
        (
            Column("engine", "engine"),
            Column("catalogue", "prompts_s", ".1f"),
            Column("+ answers", "answers_s", ".1f"),
            Column("+ played together", "together_s", ".1f"),
            Column("restart (cached)", "cached_s", ".2f"),
        ),
    )
    for w in warm_ups:
        table.add(w.engine, w.prompts_s, w.answers_s, w.together_s, w.cached_s)
    return table


def report(results: list[GroupResult]) -> Report:
    table = Table(
        "voice",
        f"TTS intelligibility: whisper-base WER on the rendered {PHONE_SAMPLE_RATE_HZ // 1000} kHz audio, "
        "render time with a cold cache (one thread)",
        (
            Column("engine", "engine"),
            Column("texts", "group"),
            Column("n", "count"),
            Column("words", "words"),
            Column("render s", "render_s", ".1f"),
            Column("audio s", "audio_s", ".0f"),
            Column("WER %", "wer_percent", ".1f"),
            Column("by sound %", "sound_wer_percent", ".1f"),
        ),
    )
    for r in results:
        table.add(
            r.engine,
            r.group,
            len(r.items),
            r.words,
            sum(i.render_s for i in r.items),
            sum(i.audio_s for i in r.items),
            100 * r.wer,
            100 * r.sound_wer,
        )
    out = Report()
    out.add(table)
    return out
