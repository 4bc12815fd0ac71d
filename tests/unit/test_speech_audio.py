"""Pure speech helpers: WAV reading, resampling, PCM conversion, WER, grammar snapping."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from ivr.speech.audio import AudioFileError, from_pcm16, read_wav, resample, to_pcm16
from ivr.speech.wer import edit_distance, wer, words
from ivr.speech.whisper_engine import snap_to_grammar


def _write(path: Path, frames: bytes, rate: int, channels: int, width: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)


def test_read_wav_stereo_mixes_to_mono(tmp_path: Path) -> None:
    left = np.full(100, 1000, dtype="<i2")
    right = np.full(100, 3000, dtype="<i2")
    _write(tmp_path / "s.wav", np.column_stack([left, right]).tobytes(), 44100, 2, 2)
    audio = read_wav(tmp_path / "s.wav")
    assert audio.rate == 44100
    assert len(audio.samples) == 100
    assert audio.samples[0] == pytest.approx(2000 / 32768)


def test_read_wav_8_bit_is_unsigned(tmp_path: Path) -> None:
    _write(tmp_path / "u8.wav", bytes([128, 255, 0]), 8000, 1, 1)
    assert read_wav(tmp_path / "u8.wav").samples.tolist() == pytest.approx([0.0, 127 / 128, -1.0])


def test_read_wav_errors(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="no such file"):
        read_wav(tmp_path / "missing.wav")
    (tmp_path / "x.wav").write_text("not audio", encoding="utf-8")
    with pytest.raises(AudioFileError, match="not a PCM WAV file"):
        read_wav(tmp_path / "x.wav")


def test_resample_keeps_a_tone_and_its_length() -> None:
    rate, tone = 8000, 440.0
    t = np.arange(rate) / rate
    x = (0.5 * np.sin(2 * np.pi * tone * t)).astype(np.float32)
    y = resample(x, 8000, 16000)
    assert len(y) == 16000
    expected = 0.5 * np.sin(2 * np.pi * tone * np.arange(16000) / 16000)
    assert np.max(np.abs(y - expected)) < 1e-3  # a whole number of periods: the FFT method is exact
    assert len(resample(x, 8000, 22050)) == 22050


def test_resample_downsampling_removes_what_cannot_be_kept() -> None:
    t = np.arange(44100) / 44100
    above_nyquist = np.sin(2 * np.pi * 6000.0 * t).astype(np.float32)  # over 4 kHz: must vanish at 8 kHz
    assert np.max(np.abs(resample(above_nyquist, 44100, 8000))) < 1e-3


def test_pcm16_round_trip_and_clipping() -> None:
    x = np.array([0.0, 0.5, -0.5, 2.0, -2.0], dtype=np.float32)
    back = from_pcm16(to_pcm16(x))
    assert back.tolist() == pytest.approx([0.0, 0.5, -0.5, 32767 / 32768, -1.0])
    assert len(from_pcm16(b"\x00\x01\x02")) == 1  # an odd trailing byte is dropped


def test_wer_hand_computed() -> None:
    assert words("Ce choix n'est pas valide.") == ["ce", "choix", "n'est", "pas", "valide"]
    assert edit_distance(["a", "b", "c"], ["a", "x", "c", "d"]) == 2  # one substitution, one insertion
    assert wer([("Ce choix n'est pas valide", "Ce choix n'est pas valid.")]) == pytest.approx(1 / 5)
    assert wer([("un deux", ""), ("trois", "trois")]) == pytest.approx(2 / 3)
    assert wer([]) == 0.0


def test_snap_to_grammar() -> None:
    grammar = ["oui", "non", "[unk]"]
    assert snap_to_grammar("Oui, c'est ça.", grammar) == "oui"
    assert snap_to_grammar("Non merci", grammar) == "non"
    assert snap_to_grammar("Je ne sais pas", grammar) == "[unk]"
    assert snap_to_grammar("Bonjour", ["un conseiller"]) == ""
    assert snap_to_grammar("Je veux un Conseiller !", ["un conseiller"]) == "un conseiller"
