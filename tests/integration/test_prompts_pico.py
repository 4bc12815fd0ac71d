"""The Pico engine with the real pico2wave and sox. scripts/setup installs libttspico-utils (from Debian's
non-free component), so these tests fail, never skip, when it is missing."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hotline.settings import DEFAULT_KB_PATH
from ivr.flow.prompts import PLAYED_TOGETHER, PROMPT_TEXTS
from ivr.prompts.cache import TtsCache
from ivr.prompts.resolver import PromptResolver, kb_answers_from
from ivr.prompts.tts import PicoEngine, engine_named
from kb.loader import load_kb
from tests.integration.test_prompts_tts import (
    IN_ASTERISK,
    MAX_EDGE_SILENCE_S,
    MIN_SPEECH_RMS,
    TEN_WORDS,
    _assert_phone_format,
    _read_phone_wav,
    _rms,
)

TWO_SENTENCES = "Pour les horaires, tapez 1. Pour un conseiller, tapez 0."


def _seconds(data: bytes) -> float:
    params, _ = _read_phone_wav(data)
    return params.nframes / params.framerate


def test_pico_is_installed_and_chosen_by_default() -> None:
    assert isinstance(engine_named("pico"), PicoEngine), "pico2wave missing: run scripts/setup"


def test_pico_sentence_gives_phone_wav_of_plausible_length_and_loudness() -> None:
    started = time.perf_counter()
    data = PicoEngine().synthesize(TEN_WORDS)
    elapsed = time.perf_counter() - started
    params, samples = _read_phone_wav(data)
    _assert_phone_format(params)
    duration = params.nframes / params.framerate
    assert 2.0 <= duration <= 7.0, f"{duration:.2f} s for 10 words"
    assert _rms(samples) > MIN_SPEECH_RMS
    assert 0.5 < float(np.max(np.abs(samples))) <= 0.72  # normalised to -3 dBFS (0.708)
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    assert loud[0] / 8000 < MAX_EDGE_SILENCE_S and (samples.size - loud[-1]) / 8000 < MAX_EDGE_SILENCE_S
    print(f"\n10 words: {duration:.2f} s of audio in {elapsed * 1000:.0f} ms")


def test_pico_is_deterministic_and_reads_a_leading_dash() -> None:
    engine = PicoEngine()
    assert engine.synthesize("Au revoir.") == engine.synthesize("Au revoir.")
    _, samples = _read_phone_wav(engine.synthesize("-l en-US -w /tmp/x.wav Bonjour"))
    assert samples.size / 8000 > 1.0 and _rms(samples) > MIN_SPEECH_RMS


def test_speed_and_sentence_breaks_lengthen_the_audio() -> None:
    normal = _seconds(PicoEngine(speed_percent=100, sentence_break_ms=0).synthesize(TWO_SENTENCES))
    slower = _seconds(PicoEngine(speed_percent=80, sentence_break_ms=0).synthesize(TWO_SENTENCES))
    paused = _seconds(PicoEngine(speed_percent=100, sentence_break_ms=600).synthesize(TWO_SENTENCES))
    assert slower > normal * 1.1, (normal, slower)
    assert paused - normal > 0.4, (normal, paused)  # one break between the two choices


def test_pico_warms_every_prompt_and_answer_once(tmp_path: Path) -> None:
    """What `hotline serve` renders at start: the catalog, the prompts played together and every KB answer, once."""
    answers = kb_answers_from(load_kb(DEFAULT_KB_PATH), DEFAULT_KB_PATH)
    cache = TtsCache(PicoEngine(), tmp_path, IN_ASTERISK)
    resolver = PromptResolver(PROMPT_TEXTS, cache, answers, played_together=PLAYED_TOGETHER)
    report = resolver.warm_all()
    assert report.ok, report.summary()
    assert report.answers.generated + report.staff_audio == len(answers)
    audio = 0.0
    for path in (tmp_path / "tts").glob("*.wav"):
        params, samples = _read_phone_wav(path.read_bytes())
        _assert_phone_format(params)
        assert _rms(samples) > MIN_SPEECH_RMS
        audio += params.nframes / params.framerate
    again = resolver.warm_all()  # how long it takes is measured by `hotline bench voice`, not asserted here
    assert (again.prompts.generated, again.answers.generated, again.together.generated) == (0, 0, 0)
    print(f"\nPico warm-up: {report.summary()}; {audio / 60:.1f} min of audio; cached: {again.seconds:.2f} s")
