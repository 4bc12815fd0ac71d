"""One voice per playback: a Play's items are their recordings only when every item has one, else one TTS
sentence of their whole text. A fake engine stands in for Pico (see test_prompts_resolver for the fixtures'
conventions)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from ivr.flow import commands as cmd
from ivr.flow.call_flow import Failure
from ivr.flow.prompts import PLAYED_TOGETHER
from ivr.flow.prompts import PROMPT_TEXTS as CATALOG
from ivr.prompts.cache import TtsCache
from ivr.prompts.resolver import PromptResolver, spoken_as_one
from ivr.runtime import media as media_module
from ivr.runtime.media import PromptMedia
from tests.unit.test_prompts_resolver import IN_ASTERISK, RECORDED, TTS_URI, FakeEngine

PROMPT_TEXTS = {
    "goodbye": "Au revoir.",  # recorded (vm-goodbye)
    "invalid": "Ce choix n'est pas valide.",  # recorded (conf-errormenu)
    "your_dossier_is": "Votre numéro de dossier est le",  # no recording
    "menu": "Pour les horaires, tapez 1. Pour un conseiller, tapez 0.",  # no recording
}
DOSSIER_SENTENCE = "Votre numéro de dossier est le un, deux, trois, quatre, cinq, six, sept, huit. Au revoir."


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def resolver(tmp_path: Path, engine: FakeEngine) -> PromptResolver:
    answers: dict[str, tuple[str, str | None]] = {"eau.facture": ("Votre facture arrive deux fois par an.", None)}
    cache = TtsCache(engine, tmp_path / "sounds", IN_ASTERISK)
    return PromptResolver(
        PROMPT_TEXTS, cache, answers, RECORDED, played_together=[("invalid", "menu"), ("invalid", "goodbye")]
    )


def resolve_all(resolver: PromptResolver, *items: cmd.Media) -> list[str]:
    return asyncio.run(PromptMedia(resolver).resolve_all(items))


def test_all_parts_recorded_play_the_recordings_and_asterisk_digits(
    resolver: PromptResolver, engine: FakeEngine
) -> None:
    uris = resolve_all(resolver, cmd.Prompt("invalid"), cmd.Digits("12#"), cmd.Number(23), cmd.Prompt("goodbye"))
    assert uris == ["sound:conf-errormenu", "digits:12#", "number:23", "sound:vm-goodbye"]
    assert engine.calls == []


def test_one_part_without_recording_makes_the_whole_play_one_tts_sentence(
    resolver: PromptResolver, engine: FakeEngine
) -> None:
    uris = resolve_all(resolver, cmd.Prompt("your_dossier_is"), cmd.Digits("12345678"), cmd.Prompt("goodbye"))
    # The recorded goodbye and Asterisk's digits are not mixed in: one TTS file says it all, digits as words.
    assert len(uris) == 1 and TTS_URI.match(uris[0])
    assert engine.calls == [DOSSIER_SENTENCE]
    assert uris == [resolver.cache.uri_for(DOSSIER_SENTENCE)]


def test_a_reprompt_and_the_menu_are_one_sentence(resolver: PromptResolver, engine: FakeEngine) -> None:
    (uri,) = resolve_all(resolver, cmd.Prompt("invalid"), cmd.Prompt("menu"))
    assert engine.calls == [f"{PROMPT_TEXTS['invalid']} {PROMPT_TEXTS['menu']}"]
    assert TTS_URI.match(uri)


def test_free_text_and_answers_join_the_sentence(resolver: PromptResolver, engine: FakeEngine) -> None:
    resolve_all(resolver, cmd.Say("Merci."), cmd.FaqAnswer("eau.facture"))  # "Merci." alone is recorded
    assert engine.calls == ["Merci. Votre facture arrive deux fois par an."]


def test_a_play_already_cached_is_resolved_inline(
    resolver: PromptResolver, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver.warm_all()
    engine.calls.clear()

    async def no_thread(*_args: object) -> None:
        raise AssertionError("a cached playback must not wait for a worker thread")

    monkeypatch.setattr(media_module.asyncio, "to_thread", no_thread)
    (uri,) = resolve_all(resolver, cmd.Prompt("invalid"), cmd.Prompt("menu"))
    assert engine.calls == []
    assert uri == resolver.cache.uri_for(f"{PROMPT_TEXTS['invalid']} {PROMPT_TEXTS['menu']}")


def test_a_play_to_synthesise_runs_in_a_worker_thread(resolver: PromptResolver, engine: FakeEngine) -> None:
    async def run() -> int:
        await PromptMedia(resolver).resolve_all((cmd.Prompt("invalid"), cmd.Prompt("menu")))
        return threading.get_ident()

    loop_thread = asyncio.run(run())
    assert engine.threads and loop_thread not in engine.threads


def test_warm_all_warms_the_prompts_played_together(resolver: PromptResolver, engine: FakeEngine) -> None:
    report = resolver.warm_all()
    together = f"{PROMPT_TEXTS['invalid']} {PROMPT_TEXTS['menu']}"
    assert together in engine.calls
    assert report.prompts.generated == 2  # your_dossier_is, menu
    assert report.together.generated == 1  # invalid + menu ("invalid" + "goodbye" are both recordings)
    assert resolver.cache.is_cached(together)


def test_a_synthesis_failure_reaches_the_caller_of_resolve_all(resolver: PromptResolver) -> None:
    with pytest.raises(KeyError):
        resolve_all(resolver, cmd.Prompt("menu"), cmd.Prompt("nope"))


@pytest.mark.parametrize(
    ("texts", "spoken"),
    [
        (
            ["Pour le dossier numéro", "un, deux", "Votre demande est traitée."],
            "Pour le dossier numéro un, deux. Votre demande est traitée.",
        ),
        (["Je n'ai pas reçu votre réponse.", "Tapez 1."], "Je n'ai pas reçu votre réponse. Tapez 1."),
        (["Vous voulez parler de : Piscine ?", "Dites oui."], "Vous voulez parler de : Piscine ? Dites oui."),
        (["Bonjour", "", "  à  tous  "], "Bonjour à tous"),
    ],
)
def test_spoken_as_one_adds_a_full_stop_between_sentences_only(texts: list[str], spoken: str) -> None:
    assert spoken_as_one(texts) == spoken


def test_the_flow_combinations_to_warm_are_catalog_keys_and_cover_every_failure() -> None:
    keys = {key for together in PLAYED_TOGETHER for key in together}
    assert keys <= set(CATALOG)
    assert {failure.value for failure in Failure} <= keys


def test_an_uploaded_recording_plays_as_is_and_the_parts_around_it_keep_one_voice_each(
    resolver: PromptResolver, engine: FakeEngine
) -> None:
    uris = resolve_all(resolver, cmd.Prompt("goodbye"), cmd.Sound("recorded/abc123"), cmd.Prompt("menu"))
    assert uris[0] == "sound:vm-goodbye"  # recorded: its recording, not TTS of "Au revoir."
    assert uris[1] == f"sound:{IN_ASTERISK}/recorded/abc123"
    assert len(uris) == 3 and uris[2].startswith(f"sound:{IN_ASTERISK}/tts/")
    assert engine.calls == [PROMPT_TEXTS["menu"]]  # the upload is never synthesised nor merged into a sentence


def test_an_uploaded_recordings_name_is_checked(resolver: PromptResolver) -> None:
    with pytest.raises(ValueError, match="folder"):
        resolver.sound_part("../../etc/passwd")
