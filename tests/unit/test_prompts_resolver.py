"""The resolver's choices: recorded > TTS, staff audio > TTS, digits and numbers, missing keys.

A fake TTS engine and a fake converter (a copy) stand in for espeak-ng and sox.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
from pathlib import Path

import pytest

from ivr.prompts import cache as cache_module
from ivr.prompts.cache import TtsCache
from ivr.prompts.recorded import RecordedCatalog
from ivr.prompts.resolver import PromptResolver, UnknownFaq, UnknownPrompt, kb_answers_from
from ivr.prompts.tts import TtsError
from kb.loader import KnowledgeBase
from kb.schema import Entry

IN_ASTERISK = "/var/lib/hotline/sounds"
TTS_URI = re.compile(r"^sound:/var/lib/hotline/sounds/tts/[0-9a-f]{64}$")
STAFF_URI = re.compile(r"^sound:/var/lib/hotline/sounds/recorded/[0-9a-f]{64}$")

PROMPT_TEXTS = {
    "goodbye": "Au revoir.",  # a recording says exactly this
    "goodbye_long": "Merci de votre appel. Au revoir.",  # contains one, is not one: TTS
    "invalid": "Ce choix n'est pas valide.",  # recorded, punctuation aside
    "greeting": "Bienvenue au numéro vert de la ville.",
}
RECORDED = RecordedCatalog(
    {"vm-goodbye": "Au revoir.", "conf-errormenu": "Ce choix n'est pas valide", "auth-thankyou": "Merci."}
)


class FakeEngine:
    name = "fake"
    voice = "v1"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.threads: set[int] = set()

    def synthesize(self, text: str) -> bytes:
        self.calls.append(text)
        self.threads.add(threading.get_ident())
        return b"RIFF-fake-" + text.encode("utf-8")


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, bool]]:
    """Replace sox with a copy; record what was converted and whether silence was trimmed."""
    done: list[tuple[Path, bool]] = []

    def fake_convert(source: Path, target: Path, *, trim: bool = True) -> None:
        if not source.is_file():
            raise TtsError(f"audio file not found: {source}")
        done.append((source, trim))
        shutil.copyfile(source, target)

    monkeypatch.setattr(cache_module, "convert_file_to_phone_wav", fake_convert)
    return done


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def staff_file(tmp_path: Path) -> Path:
    path = tmp_path / "kb-audio" / "eau-coupure.wav"
    path.parent.mkdir()
    path.write_bytes(b"RIFF-staff-recording")
    return path


@pytest.fixture
def resolver(tmp_path: Path, engine: FakeEngine, staff_file: Path) -> PromptResolver:
    answers: dict[str, tuple[str, str | None]] = {
        "eau.coupure": ("En cas de coupure d'eau, appelez le service des eaux.", str(staff_file)),
        "eau.facture": ("Votre facture d'eau arrive deux fois par an.", None),
        "eau.relative": ("Une réponse enregistrée, chemin relatif.", "eau-coupure.wav"),
        "eau.perdue": ("Le fichier enregistré a disparu, lisez ceci.", str(tmp_path / "missing.wav")),
        "mairie.merci": ("Merci.", None),
    }
    cache = TtsCache(engine, tmp_path / "sounds", IN_ASTERISK)
    return PromptResolver(PROMPT_TEXTS, cache, answers, RECORDED, audio_base_dir=staff_file.parent)


# ---- Catalog prompts and free text


@pytest.mark.parametrize(("key", "uri"), [("goodbye", "sound:vm-goodbye"), ("invalid", "sound:conf-errormenu")])
def test_recorded_prompt_beats_tts(resolver: PromptResolver, engine: FakeEngine, key: str, uri: str) -> None:
    assert resolver.prompt(key) == [uri]
    assert engine.calls == []


@pytest.mark.parametrize("key", ["greeting", "goodbye_long"])
def test_prompt_without_recording_is_tts(resolver: PromptResolver, engine: FakeEngine, key: str) -> None:
    (uri,) = resolver.prompt(key)
    assert TTS_URI.match(uri)
    assert uri == resolver.cache.uri_for(PROMPT_TEXTS[key])
    assert engine.calls == [PROMPT_TEXTS[key]]


def test_without_a_recorded_catalog_everything_is_tts(tmp_path: Path, engine: FakeEngine) -> None:
    resolver = PromptResolver(PROMPT_TEXTS, TtsCache(engine, tmp_path, IN_ASTERISK), {})
    (uri,) = resolver.prompt("goodbye")
    assert TTS_URI.match(uri)


def test_unknown_prompt_key(resolver: PromptResolver) -> None:
    with pytest.raises(UnknownPrompt) as raised:
        resolver.prompt("greting")
    assert isinstance(raised.value, KeyError)
    assert raised.value.key == "greting"
    assert "greting" in str(raised.value)


def test_say_prefers_a_recording_too(resolver: PromptResolver, engine: FakeEngine) -> None:
    assert resolver.say("merci !") == ["sound:auth-thankyou"]
    (uri,) = resolver.say("Une crue est annoncée ce soir.")
    assert TTS_URI.match(uri)
    assert engine.calls == ["Une crue est annoncée ce soir."]


def test_say_empty_text(resolver: PromptResolver) -> None:
    with pytest.raises(TtsError, match="empty"):
        resolver.say("  ")


# ---- Digits and numbers


def test_digits(resolver: PromptResolver) -> None:
    assert resolver.digits("12345678") == ["digits:12345678"]
    assert resolver.digits("0") == ["digits:0"]
    assert resolver.digits("*#") == ["digits:*#"]


@pytest.mark.parametrize("bad", ["", "12 34", "12a", "1,2", "１２"])
def test_digits_rejects_anything_else(resolver: PromptResolver, bad: str) -> None:
    with pytest.raises(ValueError, match="digits"):
        resolver.digits(bad)


@pytest.mark.parametrize(("n", "uri"), [(42, "number:42"), (0, "number:0"), (1999, "number:1999"), (-3, "number:-3")])
def test_number(resolver: PromptResolver, n: int, uri: str) -> None:
    assert resolver.number(n) == [uri]


@pytest.mark.parametrize("bad", [True, 4.5, "42"])
def test_number_rejects_non_integers(resolver: PromptResolver, bad: object) -> None:
    with pytest.raises(TypeError):
        resolver.number(bad)  # type: ignore[arg-type]


# ---- FAQ answers


def test_staff_audio_beats_tts(
    resolver: PromptResolver, engine: FakeEngine, conversions: list[tuple[Path, bool]], staff_file: Path
) -> None:
    (uri,) = resolver.faq_answer("eau.coupure")
    assert STAFF_URI.match(uri)
    assert engine.calls == []
    key = uri.rsplit("/", 1)[1]
    copied = resolver.cache.folder / "recorded" / f"{key}.wav"
    assert copied.read_bytes() == staff_file.read_bytes()
    assert conversions == [(staff_file, False)]  # a person's pauses are kept


def test_staff_audio_is_converted_once(
    resolver: PromptResolver, conversions: list[tuple[Path, bool]], staff_file: Path
) -> None:
    assert resolver.faq_answer("eau.coupure") == resolver.faq_answer("eau.coupure")
    assert len(conversions) == 1


def test_rerecorded_staff_audio_gets_a_new_file(
    resolver: PromptResolver, conversions: list[tuple[Path, bool]], staff_file: Path
) -> None:
    before = resolver.faq_answer("eau.coupure")
    staff_file.write_bytes(b"RIFF-staff-recording, take two, a little longer")
    after = resolver.faq_answer("eau.coupure")
    assert before != after
    assert len(conversions) == 2


def test_relative_staff_audio_is_found_from_the_base_dir(
    resolver: PromptResolver, conversions: list[tuple[Path, bool]], staff_file: Path
) -> None:
    (uri,) = resolver.faq_answer("eau.relative")
    assert STAFF_URI.match(uri)
    assert resolver.faq_answer("eau.relative") == resolver.faq_answer("eau.coupure")  # same content


def test_answer_without_audio_is_tts(resolver: PromptResolver, engine: FakeEngine) -> None:
    (uri,) = resolver.faq_answer("eau.facture")
    assert TTS_URI.match(uri)
    assert engine.calls == ["Votre facture d'eau arrive deux fois par an."]


def test_answer_matching_a_recording_uses_it(resolver: PromptResolver, engine: FakeEngine) -> None:
    assert resolver.faq_answer("mairie.merci") == ["sound:auth-thankyou"]


def test_missing_staff_audio_falls_back_to_tts(
    resolver: PromptResolver, engine: FakeEngine, conversions: list[tuple[Path, bool]], caplog: pytest.LogCaptureFixture
) -> None:
    (uri,) = resolver.faq_answer("eau.perdue")
    assert TTS_URI.match(uri)
    assert engine.calls == ["Le fichier enregistré a disparu, lisez ceci."]
    assert "eau.perdue" in caplog.text


def test_unknown_faq_id(resolver: PromptResolver) -> None:
    with pytest.raises(UnknownFaq) as raised:
        resolver.faq_answer("eau.inconnue")
    assert isinstance(raised.value, KeyError)
    assert raised.value.faq_id == "eau.inconnue"
    assert "eau.inconnue" in str(raised.value)


# ---- Warm-up and async


def test_warm_all_generates_every_prompt_and_answer(
    resolver: PromptResolver, engine: FakeEngine, conversions: list[tuple[Path, bool]]
) -> None:
    report = resolver.warm_all()
    assert report.recorded_prompts == 2  # goodbye, invalid
    assert report.prompts.generated == 2  # greeting, goodbye_long
    assert report.staff_audio == 2  # eau.coupure and eau.relative (the same file)
    assert set(report.staff_audio_failed) == {"eau.perdue"}
    assert report.answers.generated == 2  # eau.facture, and eau.perdue's text as its fallback
    assert not report.ok
    assert "failures: 1" in report.summary()
    assert sorted(engine.calls) == sorted(
        [
            PROMPT_TEXTS["greeting"],
            PROMPT_TEXTS["goodbye_long"],
            "Votre facture d'eau arrive deux fois par an.",
            "Le fichier enregistré a disparu, lisez ceci.",
        ]
    )
    # Everything is on disk now: resolving synthesises nothing more.
    engine.calls.clear()
    for key in PROMPT_TEXTS:
        resolver.prompt(key)
    for faq_id in resolver.kb_answers:
        resolver.faq_answer(faq_id)
    assert engine.calls == []
    second = resolver.warm_all()
    assert (second.prompts.generated, second.answers.generated) == (0, 0)


def test_async_methods_run_in_a_worker_thread(
    resolver: PromptResolver, engine: FakeEngine, conversions: list[tuple[Path, bool]]
) -> None:
    async def run() -> tuple[list[str], list[str], int]:
        prompt = await resolver.aprompt("greeting")
        answer = await resolver.afaq_answer("eau.facture")
        await resolver.asay("Autre chose.")
        await resolver.awarm_all()
        return prompt, answer, threading.get_ident()

    prompt, answer, loop_thread = asyncio.run(run())
    assert prompt == resolver.prompt("greeting")
    assert answer == resolver.faq_answer("eau.facture")
    assert engine.threads and loop_thread not in engine.threads


def test_kb_answers_from_a_knowledge_base(tmp_path: Path) -> None:
    common = {
        "topic": "eau",
        "title": "Coupure d'eau",
        "questions": ("q1", "q2", "q3", "q4", "q5"),
        "web_answer": "Réponse écrite assez longue.",
        "service": "eau",
    }
    kb = KnowledgeBase(
        (
            Entry(id="eau.a", spoken_answer="Réponse lue numéro un.", audio="audio/a.wav", **common),
            Entry(id="eau.b", spoken_answer="Réponse lue numéro deux.", audio="/abs/b.wav", **common),
            Entry(id="eau.c", spoken_answer="Réponse lue numéro trois.", **common),
        )
    )
    assert kb_answers_from(kb, tmp_path) == {
        "eau.a": ("Réponse lue numéro un.", str(tmp_path / "audio/a.wav")),
        "eau.b": ("Réponse lue numéro deux.", "/abs/b.wav"),
        "eau.c": ("Réponse lue numéro trois.", None),
    }
    assert kb_answers_from(kb)["eau.a"] == ("Réponse lue numéro un.", "audio/a.wav")
