"""Callers understand the hotline's voice: whisper-base transcribes the whole prompt catalogue, rendered by Pico
at 8 kHz as a caller hears it, with at most 25 % word errors (measured figure and goal: README, `hotline bench
voice`). Pico must be installed (scripts/setup does it): a missing Pico fails here, it never skips."""

from __future__ import annotations

from bench import bench_voice
from hotline.settings import Settings
from ivr.prompts.tts import engine_named

MAX_CATALOGUE_WER = 0.25


def test_the_prompt_catalogue_spoken_by_pico_is_understood() -> None:
    assert engine_named("pico").name == "pico", "Pico (libttspico-utils) is missing: run scripts/setup"
    [result] = bench_voice.measure(Settings(), {"catalogue": bench_voice.catalogue_texts()}, ["pico"])
    assert len(result.items) >= 20  # the whole catalogue, not a few texts
    assert result.wer <= MAX_CATALOGUE_WER, [(r.spoken, r.heard) for r in result.items]
