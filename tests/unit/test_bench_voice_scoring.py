"""How `hotline bench voice` scores what whisper heard: words alike to the ear, and long audio cut at pauses."""

from __future__ import annotations

import numpy as np
import pytest

from bench.bench_voice import PIECE_MAX_S, by_sound, pieces_at_pauses, sound_of

RATE = 16_000


@pytest.mark.parametrize(
    "written, heard",
    [
        ("tapez", "tapé"),
        ("traitée", "traité"),
        ("aidées", "aidé"),
        ("services", "service"),
        ("municipale", "municipal"),
        ("valide", "valid"),
        ("arbres", "arbre"),
        ("à", "a"),
        ("aux", "au"),
        ("vingt", "vin"),
    ],
)
def test_words_heard_alike_have_one_key(written: str, heard: str) -> None:
    assert sound_of(written) == sound_of(heard)


@pytest.mark.parametrize(
    "one, other",
    [("pour", "pourrie"), ("oui", "lui"), ("fuite", "suite"), ("coupure", "couture"), ("clos", "l'eau"), ("et", "été")],
)
def test_words_heard_apart_keep_apart(one: str, other: str) -> None:
    assert sound_of(one) != sound_of(other)


def test_short_words_keep_their_letters() -> None:
    assert [sound_of(w) for w in ("les", "des", "est", "une", "de")] == ["les", "des", "est", "une", "de"]


def test_by_sound_compares_whole_sentences() -> None:
    assert by_sound("Pour oui, tapez un.") == by_sound("pour oui tapé un")


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def test_short_audio_is_one_piece() -> None:
    audio = np.concatenate([_tone(3), _silence(0.5), _tone(3)])
    assert [len(p) for p in pieces_at_pauses(audio, RATE)] == [len(audio)]


def test_long_audio_is_cut_at_pauses_into_pieces_whisper_reads_whole() -> None:
    sentences = [_tone(6.0 + k % 3) for k in range(8)]  # 60 s of "speech" in 6-8 s sentences
    audio = np.concatenate([part for s in sentences for part in (s, _silence(0.4))])
    pieces = pieces_at_pauses(audio, RATE)
    assert len(pieces) >= 4
    assert all(len(p) <= PIECE_MAX_S * RATE for p in pieces)
    assert sum(len(p) for p in pieces) == len(audio)  # nothing lost
    for piece in pieces[1:]:
        assert np.abs(piece[: RATE // 100]).max() == 0  # each cut lies inside a pause, never in a word


def test_audio_without_a_pause_stays_whole() -> None:
    audio = _tone(40)
    assert [len(p) for p in pieces_at_pauses(audio, RATE)] == [len(audio)]
