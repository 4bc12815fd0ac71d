"""Prompt audio with the real espeak-ng and sox (Debian packages, required: these tests never skip for them).

The recorded-catalog tests read the Asterisk sandbox chroot and skip, naming it, when it has not been built.
"""

from __future__ import annotations

import io
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from hotline.settings import DEFAULT_KB_PATH, Settings
from ivr.prompts import tts as tts_module
from ivr.prompts.cache import TtsCache
from ivr.prompts.recorded import RecordedCatalog
from ivr.prompts.resolver import PromptResolver, kb_answers_from
from ivr.prompts.tts import EspeakEngine, TtsError, convert_file_to_phone_wav, to_phone_wav
from kb.loader import load_kb

IN_ASTERISK = "/var/lib/hotline/sounds"
TEN_WORDS = "Votre demande est enregistrée, un conseiller va vous rappeler demain."
# Speech normalised to -3 dBFS peak has an RMS of several percent of full scale; digital silence is 0.
MIN_SPEECH_RMS = 0.02
MAX_EDGE_SILENCE_S = 0.3  # trimmed to a 50 ms lead and a 150 ms tail, plus the quiet onset of the first phoneme
SANDBOX_ROOTS = (Settings().asterisk_root, Path("/var/cache/hotline/asterisk-build"))


def _read_phone_wav(data: bytes) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(io.BytesIO(data)) as wav:
        params = wav.getparams()
        frames = wav.readframes(params.nframes)
    return params, np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0


def _assert_phone_format(params: wave._wave_params) -> None:
    assert (params.framerate, params.nchannels, params.sampwidth, params.comptype) == (8000, 1, 2, "NONE")


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def test_french_sentence_gives_phone_wav_of_plausible_length_and_loudness() -> None:
    started = time.perf_counter()
    data = EspeakEngine().synthesize(TEN_WORDS)
    elapsed = time.perf_counter() - started
    params, samples = _read_phone_wav(data)
    _assert_phone_format(params)
    duration = params.nframes / params.framerate
    assert 1.5 <= duration <= 6.0, f"{duration:.2f} s for 10 words"
    assert _rms(samples) > MIN_SPEECH_RMS
    assert 0.5 < float(np.max(np.abs(samples))) <= 0.72  # normalised to -3 dBFS (0.708)
    print(f"\n10 words: {duration:.2f} s of audio in {elapsed * 1000:.0f} ms")


def test_leading_and_trailing_silence_is_short() -> None:
    _, samples = _read_phone_wav(EspeakEngine().synthesize("Bonjour."))
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    assert loud.size
    assert loud[0] / 8000 < MAX_EDGE_SILENCE_S
    assert (samples.size - loud[-1]) / 8000 < MAX_EDGE_SILENCE_S


def test_same_text_same_bytes() -> None:
    engine = EspeakEngine()
    assert engine.synthesize("Au revoir.") == engine.synthesize("Au revoir.")


def test_text_starting_with_a_dash_is_read_not_parsed_as_an_option() -> None:
    params, samples = _read_phone_wav(EspeakEngine().synthesize("-v en Bonjour"))
    assert params.nframes / params.framerate > 0.5 and _rms(samples) > MIN_SPEECH_RMS


def test_second_call_hits_the_cache(tmp_path: Path) -> None:
    cache = TtsCache(EspeakEngine(), tmp_path, IN_ASTERISK)
    uri = cache.get(TEN_WORDS)
    files = list((tmp_path / "tts").iterdir())
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    started = time.perf_counter()
    assert cache.get(TEN_WORDS) == uri
    hit_ms = (time.perf_counter() - started) * 1000
    assert list((tmp_path / "tts").iterdir()) == files
    assert files[0].stat().st_mtime_ns == stamp
    assert uri == f"sound:{IN_ASTERISK}/tts/{files[0].stem}"
    _assert_phone_format(_read_phone_wav(files[0].read_bytes())[0])
    print(f"\ncache hit: {hit_ms:.2f} ms")


def test_timeout_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tts_module, "SUBPROCESS_TIMEOUT_S", 1e-6)
    with pytest.raises(TtsError, match="took longer than"):
        EspeakEngine().synthesize(TEN_WORDS)


def test_unknown_voice_is_a_clear_error() -> None:
    with pytest.raises(TtsError, match="espeak-ng failed"):
        EspeakEngine(voice_name="xx-nope").synthesize("Bonjour.")


def test_staff_recording_is_converted_to_the_phone_format(tmp_path: Path) -> None:
    # A studio file: 44.1 kHz stereo, 0.5 s of a quiet 440 Hz tone.
    source = tmp_path / "studio.wav"
    with wave.open(str(source), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(44100)
        t = np.arange(22050) / 44100
        tone = (0.1 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
        wav.writeframes(np.repeat(tone, 2).tobytes())
    target = tmp_path / "phone.wav"
    convert_file_to_phone_wav(source, target, trim=False)
    params, samples = _read_phone_wav(target.read_bytes())
    _assert_phone_format(params)
    assert abs(params.nframes / 8000 - 0.5) < 0.01  # untrimmed
    assert _rms(samples) > 0.3  # normalised up from 0.1 peak
    uri = TtsCache(EspeakEngine(), tmp_path / "sounds", IN_ASTERISK).import_audio(source)
    assert uri.startswith(f"sound:{IN_ASTERISK}/recorded/")


def test_unreadable_audio_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(TtsError, match="sox"):
        to_phone_wav(bad.read_bytes())
    with pytest.raises(TtsError, match="not found"):
        convert_file_to_phone_wav(tmp_path / "missing.wav", tmp_path / "out.wav")


def test_warm_the_whole_knowledge_base(tmp_path: Path) -> None:
    """Every KB answer synthesised (timed, printed), each valid and under the 45 s spoken limit."""
    answers = kb_answers_from(load_kb(DEFAULT_KB_PATH), DEFAULT_KB_PATH)
    cache = TtsCache(EspeakEngine(), tmp_path, IN_ASTERISK)
    resolver = PromptResolver({"greeting": "Bienvenue au numéro vert de la ville."}, cache, answers)
    report = resolver.warm_all()
    assert report.ok, report.summary()
    assert report.answers.generated + report.staff_audio == len(answers)
    longest = 0.0
    for path in (tmp_path / "tts").glob("*.wav"):
        params, samples = _read_phone_wav(path.read_bytes())
        _assert_phone_format(params)
        assert _rms(samples) > MIN_SPEECH_RMS
        longest = max(longest, params.nframes / params.framerate)
    assert longest < 50  # MAX_SPOKEN_WORDS is sized for about 45 s at phone pace
    print(f"\n{len(answers)} KB answers: {report.summary()}; longest answer {longest:.1f} s")


# ---- The real recorded catalog in the sandbox chroot


@pytest.fixture(scope="module")
def sandbox_catalog() -> RecordedCatalog:
    root = next((r for r in SANDBOX_ROOTS if (r / "usr/share/asterisk/sounds").is_dir()), None)
    if root is None:
        pytest.skip(f"no Asterisk sandbox chroot at {', '.join(map(str, SANDBOX_ROOTS))} (built by `asterisk up`)")
    return RecordedCatalog.from_asterisk_root(root)


def test_sandbox_has_the_french_core_sounds(sandbox_catalog: RecordedCatalog) -> None:
    assert len(sandbox_catalog) > 400  # 1.6.1 transcribes about 500 speech sounds


@pytest.mark.parametrize(
    ("sentence", "name"),
    [
        ("Au revoir.", "vm-goodbye"),
        ("Merci.", "auth-thankyou"),
        ("Ce choix n'est pas valide.", "conf-errormenu"),
        ("Merci de votre patience.", "queue-thankyou"),
    ],
)
def test_sandbox_recordings_found_by_sentence(sandbox_catalog: RecordedCatalog, sentence: str, name: str) -> None:
    assert sandbox_catalog.find(sentence) == name


def test_sandbox_digits_are_there_for_digits_and_number_uris(sandbox_catalog: RecordedCatalog) -> None:
    assert {f"digits/{d}" for d in range(10)} <= set(sandbox_catalog.texts)
