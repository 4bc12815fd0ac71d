"""A speech call through the runtime: the tap's ARI requests (over the in-process ARI fake), real RTP on a
UDP socket, the listener thread, the real matcher and call flow, and the database. The recogniser is scripted
here (the real engines have their own tests, and the e2e tests run them through Asterisk)."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from sqlmodel import select

from hotline.storage.db import make_engine, session_scope, upgrade_database
from hotline.storage.models import Call, CallEvent, UnmatchedUtterance
from ivr.ari.client import AriConfig
from ivr.flow import events as ev
from ivr.flow.call_flow import CallFlow
from ivr.flow.menu import DEFAULT_MENU_FILE, load_menu
from ivr.runtime import speech_tap
from ivr.runtime.ivr_app import IvrApp
from ivr.runtime.speech_tap import SpeechTap
from ivr.runtime.store import CallStore
from ivr.speech.g711 import ulaw_encode
from ivr.speech.listener import CallListener, TurnTimings
from ivr.speech.recognizer import Result
from kb.matcher import Matcher, build_matcher
from tests.e2e.sip.audio import tone
from tests.integration.fake_ari import FakeSpeechAri, dtmf, stasis_end
from tests.integration.test_ivr_app import CHANNEL, KB, LabelMedia, settle

WAIT_S = 10.0


@dataclass
class ScriptedStream:
    recognizer: ScriptedRecognizer
    grammar: Sequence[str] | None
    sample_rate: int = 8000
    fed: int = 0

    def feed(self, pcm16: bytes) -> None:
        self.fed += len(pcm16)

    def partial(self) -> str:
        return ""

    def final(self) -> Result:
        self.recognizer.release.wait(WAIT_S)  # a test may hold the recogniser to prove nothing waits for it
        seconds, self.fed = self.fed / 16000, 0
        return Result(self.recognizer.texts.pop(0), 0.9, seconds)

    def reset(self) -> None:
        self.fed = 0

    def close(self) -> None:
        self.recognizer.closed += 1


class ScriptedRecognizer:
    name = "scripted"
    sample_rate = 8000

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.grammars: list[Sequence[str] | None] = []
        self.closed = 0
        self.release = threading.Event()
        self.release.set()

    def open_stream(self, grammar: Sequence[str] | None = None) -> ScriptedStream:
        self.grammars.append(grammar)
        return ScriptedStream(self, grammar)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return build_matcher(KB)


@dataclass
class Rig:
    app: IvrApp
    ari: FakeSpeechAri
    recognizer: ScriptedRecognizer
    engine_url: str


@pytest.fixture
async def rig(database_url: str, matcher: Matcher) -> AsyncIterator[Rig]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    store = CallStore(engine, KB)
    menu = load_menu(DEFAULT_MENU_FILE, KB.ids())
    actions = {e.id: e.action for e in KB.entries}
    ari = FakeSpeechAri()
    recognizer = ScriptedRecognizer(["les horaires d'ouverture de la mairie", "euh"])
    app: IvrApp

    def speech_factory(channel_id: str, deliver: object, on_turn: object) -> SpeechTap:
        listener = CallListener(recognizer, matcher, deliver, on_turn, name=f"test-{channel_id}")  # type: ignore[arg-type]
        return SpeechTap(channel_id, "hotline", ari, app.media_channels, listener)

    app = IvrApp(
        AriConfig("http://127.0.0.1:1/ari", "u", "p", "hotline"),
        ari,
        LabelMedia(),
        store,
        lambda: CallFlow(menu, actions, speech_enabled=True),
        speech_factory,
    )
    yield Rig(app, ari, recognizer, database_url)
    engine.dispose()


async def until(condition: object, what: str) -> None:
    async def poll() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), WAIT_S)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def rtp(payload: bytes, seq: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, 0xCAFE) + payload


def send_speech(address: str, speech_ms: int, silence_ms: int) -> None:
    """The caller's voice as externalMedia would send it: 20 ms mu-law RTP packets (sent faster than real time)."""
    host, port = address.rsplit(":", 1)
    audio = ulaw_encode(np.concatenate([tone(300, speech_ms, -20.0), np.zeros(8 * silence_ms, dtype=np.int16)]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for seq, start in enumerate(range(0, len(audio), 160)):
            sock.sendto(rtp(audio[start : start + 160], seq), (host, int(port)))


async def start_call_with_tap(rig: Rig) -> str:
    """The caller's StasisStart; the media channels enter Stasis once requested. Returns the RTP address."""
    await rig.app.handle(rig.ari.stasis_start(CHANNEL))
    media_id, snoop_id = CHANNEL + speech_tap.MEDIA_SUFFIX, CHANNEL + speech_tap.SNOOP_SUFFIX
    await until(lambda: media_id in rig.ari.external_hosts and snoop_id in rig.ari.held, "media requests")
    assert not rig.ari.bridge_members  # nothing is bridged before the channels are in Stasis
    await rig.app.handle(rig.ari.media_started(snoop_id))
    await rig.app.handle(rig.ari.media_started(media_id))
    bridge = CHANNEL + speech_tap.BRIDGE_SUFFIX
    await until(lambda: len(rig.ari.bridge_members.get(bridge, [])) == 2, "the bridge")
    assert CHANNEL not in rig.app.media_channels._waiting and media_id not in rig.app.sessions
    return rig.ari.external_hosts[media_id]


def events_of(url: str) -> list[CallEvent]:
    engine = make_engine(url)
    try:
        with session_scope(engine, write=False) as s:
            rows = list(s.exec(select(CallEvent)).all())
            for row in rows:
                s.expunge(row)
            return rows
    finally:
        engine.dispose()


async def test_the_callers_voice_cuts_the_welcome_and_gets_the_answer(rig: Rig) -> None:
    address = await start_call_with_tap(rig)
    assert address.startswith("127.0.0.1:")
    snoop = next(r for r in rig.ari.requests if r[0] == "snoop")
    assert snoop == ("snoop", CHANNEL, CHANNEL + speech_tap.SNOOP_SUFFIX, "in")
    await until(lambda: rig.ari.plays(CHANNEL), "the welcome")
    welcome = rig.ari.last_playback(CHANNEL)
    send_speech(address, speech_ms=1200, silence_ms=1000)
    await until(lambda: ("stop", welcome) in rig.ari.requests, "barge-in")
    await until(lambda: any("faq:mairie.horaires" in p for p in rig.ari.plays(CHANNEL)), "the answer")
    await rig.app.handle(stasis_end(CHANNEL))
    await settle(rig.app)
    await until(lambda: not rig.ari.bridge_members, "the bridge torn down")
    hung_up = {r[1] for r in rig.ari.requests if r[0] == "hangup"}
    assert {CHANNEL + speech_tap.MEDIA_SUFFIX, CHANNEL + speech_tap.SNOOP_SUFFIX} <= hung_up
    events = events_of(rig.engine_url)
    kinds = [e.kind for e in events]
    assert kinds.index("barge_in") < kinds.index("speech") < kinds.index("faq_answered"), kinds
    [turn] = [e.data for e in events if e.kind == "speech_turn"]
    assert turn["engine"] == "scripted" and 1200 <= int(turn["audio_ms"]) <= 2300, turn  # speech + silence fed
    assert [e.data for e in events if e.kind == "speech_answer_sent"], kinds
    engine = make_engine(rig.engine_url)
    with session_scope(engine, write=False) as s:
        [call] = s.exec(select(Call)).all()
        assert call.transcript == "les horaires d'ouverture de la mairie"
    engine.dispose()


async def test_an_utterance_nothing_matches_is_kept_for_review(rig: Rig) -> None:
    rig.recognizer.texts[:] = ["euh le truc là", "bof"]
    address = await start_call_with_tap(rig)
    send_speech(address, speech_ms=800, silence_ms=900)
    # "Not understood" or "no answer to that" (the scope model's call): either way it is kept.
    reprompts = ("prompt:no_match", "prompt:not_handled")
    await until(lambda: any(r in p for p in rig.ari.plays(CHANNEL) for r in reprompts), "the reprompt")
    await rig.app.handle(stasis_end(CHANNEL))
    await settle(rig.app)
    engine = make_engine(rig.engine_url)
    with session_scope(engine, write=False) as s:
        [kept] = s.exec(select(UnmatchedUtterance)).all()
        assert kept.text == "euh le truc là" and kept.call_id is not None and kept.best_score < 0.31
    engine.dispose()


async def test_without_its_media_channels_the_call_goes_on_with_keys(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speech_tap, "MEDIA_READY_TIMEOUT_S", 0.2)
    await rig.app.handle(rig.ari.stasis_start(CHANNEL))  # the media channels never enter Stasis
    await until(lambda: rig.ari.plays(CHANNEL), "the welcome")
    await settle(rig.app)
    await until(lambda: ("hangup", CHANNEL + speech_tap.MEDIA_SUFFIX) in rig.ari.requests, "the cleanup")
    await rig.app.handle(stasis_end(CHANNEL))
    await settle(rig.app)
    assert "speech_unavailable" in [e.kind for e in events_of(rig.engine_url)]


async def test_a_refused_external_media_request_leaves_a_keys_only_call(rig: Rig) -> None:
    rig.ari.fail_external_media = True
    await rig.app.handle(rig.ari.stasis_start(CHANNEL))
    await until(lambda: rig.ari.plays(CHANNEL), "the welcome")
    await rig.app.handle(stasis_end(CHANNEL))
    await settle(rig.app)
    assert not rig.ari.bridge_members
    assert "speech_unavailable" in [e.kind for e in events_of(rig.engine_url)]


def test_the_listener_reports_timings_to_the_session() -> None:
    assert {"backlog_ms", "recognize_ms", "match_ms", "ended_at"} <= set(TurnTimings.__dataclass_fields__)
    assert ev.SpeechStarted() == ev.SpeechStarted()


async def test_a_slow_recogniser_never_holds_up_call_control(rig: Rig) -> None:
    """Recognition runs in the call's worker thread: while it is busy, keys are still answered at once."""
    rig.recognizer.release.clear()  # final() blocks until released
    address = await start_call_with_tap(rig)
    send_speech(address, speech_ms=800, silence_ms=900)
    await until(lambda: any(r[0] == "stop" for r in rig.ari.requests), "barge-in")
    await rig.app.handle(dtmf(CHANNEL, "0"))  # the caller asks for a person while the recogniser is stuck
    await until(lambda: any("prompt:human_stub" in p for p in rig.ari.plays(CHANNEL)), "the person path")
    assert not rig.recognizer.release.is_set()  # answered while recognition was still running
    rig.recognizer.release.set()
    await rig.app.handle(stasis_end(CHANNEL))
    await settle(rig.app)
