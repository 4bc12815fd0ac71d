"""Engine choice (Pico by default, espeak-ng when pico2wave is missing, logged once), Pico's markup and the
text-preparation hook of the cache key. No subprocess runs here: the real engines are in
tests/integration/test_prompts_pico.py."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from hotline.settings import Settings
from ivr.prompts import tts as tts_module
from ivr.prompts.cache import TtsCache, tts_cache_for
from ivr.prompts.tts import EspeakEngine, PicoEngine, TtsEngine, TtsUnavailable, engine_named, pico_markup
from tests.unit.test_prompts_cache import IN_ASTERISK, FakeEngine

REAL_WHICH = shutil.which


def without(*programs: str) -> object:
    return lambda program: None if program in programs else REAL_WHICH(program) or f"/usr/bin/{program}"


@pytest.fixture(autouse=True)
def fresh_fallback_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tts_module, "_fallbacks_logged", set())


def test_pico_is_an_engine_whose_voice_names_every_setting() -> None:
    assert isinstance(PicoEngine(), TtsEngine)
    assert PicoEngine().name == "pico" != EspeakEngine().name
    assert PicoEngine().voice == "fr-FR/s90/b250/n"
    assert PicoEngine(speed_percent=80).voice != PicoEngine().voice
    assert PicoEngine(sentence_break_ms=400).voice != PicoEngine().voice


def test_pico_markup_slows_the_rate_and_pauses_between_sentences() -> None:
    text = "Pour les horaires, tapez 1. Pour un conseiller, tapez 0 ! Merci ?  Au revoir…"
    assert pico_markup(text, speed_percent=90, sentence_break_ms=250) == (
        '<speed level="90">Pour les horaires, tapez 1.<break time="250ms"/> Pour un conseiller, tapez 0 !'
        '<break time="250ms"/> Merci ?<break time="250ms"/> Au revoir…</speed>'
    )


def test_pico_markup_keeps_decimals_whole_and_lets_no_tag_in_from_the_text() -> None:
    markup = pico_markup('Tarif 3.5 euros <speed level="500">vite</speed>', speed_percent=90, sentence_break_ms=250)
    assert markup == '<speed level="90">Tarif 3.5 euros speed level="500" vite /speed</speed>'


@pytest.mark.parametrize(
    "text, said",
    [
        ("à dix-sept heures trente", "à dix sept heures trente"),
        ("quatre-vingt-dix centimes", "quatre vingt dix centimes"),
        ("vingt-et-un ans, soixante-dix-huit euros", "vingt et un ans, soixante dix huit euros"),
        ("Dix-Huit", "Dix Huit"),
    ],
)
def test_pico_says_numbers_part_by_part(text: str, said: str) -> None:
    assert pico_markup(text, speed_percent=100, sentence_break_ms=0) == f'<speed level="100">{said}</speed>'


@pytest.mark.parametrize("text", ["Saint-Étienne", "peut-être", "Victor-Hugo", "dites-le", "sept-cents-ans-x"])
def test_pico_keeps_other_hyphens(text: str) -> None:
    assert text.split("-")[0] in pico_markup(text, speed_percent=100, sentence_break_ms=0)
    assert "-" in pico_markup(text, speed_percent=100, sentence_break_ms=0)


def test_pico_is_the_default_when_installed(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(shutil, "which", without())
    assert Settings(_env_file=None).tts_engine == "pico"  # type: ignore[call-arg]
    with caplog.at_level(logging.WARNING):
        assert isinstance(engine_named("pico"), PicoEngine)
        assert isinstance(engine_named("espeak"), EspeakEngine)
    assert caplog.records == []


def test_missing_pico_falls_back_to_espeak_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(shutil, "which", without("pico2wave"))
    with caplog.at_level(logging.WARNING, logger="ivr.prompts.tts"):
        engines = [engine_named("pico") for _ in range(3)]
    assert all(isinstance(engine, EspeakEngine) for engine in engines)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "pico2wave is not installed" in record.getMessage()
    assert "libttspico-utils" in record.getMessage() and "espeak-ng instead" in record.getMessage()


def test_no_engine_at_all_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", without("pico2wave", "espeak-ng"))
    with pytest.raises(TtsUnavailable, match="espeak-ng"):
        engine_named("pico")
    monkeypatch.setattr(shutil, "which", without("pico2wave"))
    with pytest.raises(TtsUnavailable, match=r"pico2wave is not installed .*libttspico-utils"):
        PicoEngine().synthesize("Bonjour.")


def test_unknown_engine_name() -> None:
    with pytest.raises(ValueError, match="unknown TTS engine 'festival': choose one of pico, espeak"):
        engine_named("festival")


def test_the_settings_choose_the_engine_of_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", without())
    settings = Settings(_env_file=None, prompts_dir=tmp_path, tts_engine="espeak")  # type: ignore[call-arg]
    assert isinstance(tts_cache_for(settings).engine, EspeakEngine)
    assert isinstance(tts_cache_for(settings, "pico").engine, PicoEngine)
    pico, espeak = tts_cache_for(settings, "pico"), tts_cache_for(settings, "espeak")
    assert pico.path_for("Bonjour.") != espeak.path_for("Bonjour.")  # switching never serves the other's audio


# ---- The text-preparation hook


def test_prepare_runs_before_synthesis_and_keys_the_cache(tmp_path: Path) -> None:
    engine = FakeEngine()
    plain = TtsCache(engine, tmp_path, IN_ASTERISK)
    prepared = TtsCache(engine, tmp_path, IN_ASTERISK, prepare=lambda text: text.replace("8 h", "huit heures"))
    assert prepared.get("Ouvert à 8 h.") != plain.get("Ouvert à 8 h.")
    assert engine.calls == ["Ouvert à huit heures.", "Ouvert à 8 h."]
    # Two texts read the same once prepared share one file: it is keyed on what the engine reads.
    assert prepared.get("Ouvert à huit heures.") == prepared.get("Ouvert à 8 h.")
    assert len(engine.calls) == 2
    assert prepared.prepared("  Ouvert   à 8 h. ") == "Ouvert à huit heures."
    assert prepared.is_cached("Ouvert à 8 h.")
