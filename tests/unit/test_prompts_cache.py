"""The TTS cache and the engine's error handling, with a fake engine (no espeak-ng, no sox, no sleeps)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hotline.settings import Settings
from ivr.prompts.cache import TtsCache, atomic_write, cache_key, normalise_text
from ivr.prompts.tts import EspeakEngine, TtsEngine, TtsError, TtsUnavailable

IN_ASTERISK = "/var/lib/hotline/sounds"
HEX64 = r"[0-9a-f]{64}"


class FakeEngine:
    """Returns a recognisable byte string per text and counts calls; fails on texts containing "BOOM"."""

    def __init__(self, name: str = "fake", voice: str = "v1") -> None:
        self._name = name
        self._voice = voice
        self.calls: list[str] = []
        self.threads: set[int] = set()
        self.release = threading.Event()
        self.release.set()
        self._guard = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def voice(self) -> str:
        return self._voice

    def synthesize(self, text: str) -> bytes:
        self.release.wait(timeout=10)
        with self._guard:
            self.calls.append(text)
            self.threads.add(threading.get_ident())
        if "BOOM" in text:
            raise TtsError("engine exploded")
        return b"RIFF-fake-" + text.encode("utf-8")


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def cache(tmp_path: Path, engine: FakeEngine) -> TtsCache:
    return TtsCache(engine, tmp_path / "sounds", IN_ASTERISK)


def test_fake_engine_satisfies_the_protocol(engine: FakeEngine) -> None:
    assert isinstance(engine, TtsEngine)
    assert isinstance(EspeakEngine(), TtsEngine)


# ---- Cache key


def test_cache_key_is_sha256_of_engine_voice_and_text() -> None:
    expected = hashlib.sha256(
        json.dumps(["fake", "v1", "Bonjour."], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    ).hexdigest()
    assert cache_key("fake", "v1", "Bonjour.") == expected
    # Pinned: a change here orphans every cached file in production, so it must be deliberate.
    assert expected == "615b6cab31ade8c7be62f12111a5cb0fe65ede091d18b6acd69abe37c8ad9e6a"


def test_cache_key_ignores_spacing_and_unicode_composition() -> None:
    composed = "Votre appel est gratuit, merci d'avoir appelé."
    decomposed = "Votre appel est gratuit, merci d'avoir appele\u0301."
    assert cache_key("e", "v", composed) == cache_key("e", "v", decomposed)
    spaced = "  Votre appel  est\ngratuit,\tmerci d'avoir appelé.  "
    assert cache_key("e", "v", composed) == cache_key("e", "v", spaced)
    assert normalise_text("  a \t b\n") == "a b"


@pytest.mark.parametrize(
    ("other_engine", "other_voice", "other_text"),
    [
        ("espeak-ng", "v1", "Bonjour."),  # engine
        ("fake", "v2", "Bonjour."),  # voice (or rate, pitch...)
        ("fake", "v1", "Bonjour !"),  # text, even punctuation: it changes the intonation
        ("fake", "v1", "bonjour."),  # and case
    ],
)
def test_cache_key_changes_with_each_part(other_engine: str, other_voice: str, other_text: str) -> None:
    assert cache_key("fake", "v1", "Bonjour.") != cache_key(other_engine, other_voice, other_text)


def test_espeak_voice_names_every_setting_that_changes_the_audio() -> None:
    assert EspeakEngine().voice == "fr-fr/s150/p45/g1"
    assert EspeakEngine(rate_wpm=140).voice != EspeakEngine().voice


# ---- URIs and files


def test_uri_is_absolute_path_in_asterisk_without_extension(cache: TtsCache) -> None:
    uri = cache.get("Bonjour.")
    key = cache_key("fake", "v1", "Bonjour.")
    assert uri == f"sound:{IN_ASTERISK}/tts/{key}"
    assert uri == cache.uri_for("Bonjour.")
    assert not uri.endswith(".wav")


def test_trailing_slash_of_the_asterisk_folder_is_ignored(tmp_path: Path, engine: FakeEngine) -> None:
    cache = TtsCache(engine, tmp_path, IN_ASTERISK + "/")
    assert cache.uri_for("Bonjour.").startswith(f"sound:{IN_ASTERISK}/tts/")
    assert "//" not in cache.uri_for("Bonjour.")


def test_the_asterisk_folder_must_be_absolute(tmp_path: Path, engine: FakeEngine) -> None:
    with pytest.raises(ValueError, match="absolute"):
        TtsCache(engine, tmp_path, "var/lib/hotline/sounds")


def test_from_settings_uses_the_effective_prompts_dir(tmp_path: Path, engine: FakeEngine) -> None:
    settings = Settings(asterisk_root=tmp_path / "root", prompts_dir_in_asterisk="/srv/sounds")
    cache = TtsCache.from_settings(settings, engine)
    assert cache.folder == tmp_path / "root" / "srv" / "sounds"
    assert cache.uri_for("x").startswith("sound:/srv/sounds/tts/")


def test_get_writes_the_engine_output_under_tts(cache: TtsCache, engine: FakeEngine) -> None:
    cache.get("Bonjour.")
    path = cache.path_for("Bonjour.")
    assert path.parent == cache.folder / "tts"
    assert path.name == cache_key("fake", "v1", "Bonjour.") + ".wav"
    assert path.read_bytes() == b"RIFF-fake-Bonjour."
    assert engine.calls == ["Bonjour."]


def test_files_are_readable_by_asterisk(cache: TtsCache) -> None:
    cache.get("Bonjour.")
    mode = stat.S_IMODE(cache.path_for("Bonjour.").stat().st_mode)
    assert mode & 0o444 == 0o444  # Asterisk runs as another user


def test_engine_gets_the_normalised_text(cache: TtsCache, engine: FakeEngine) -> None:
    cache.get("  Bonjour,\n  madame. ")
    assert engine.calls == ["Bonjour, madame."]


def test_second_call_hits_the_cache(cache: TtsCache, engine: FakeEngine) -> None:
    first = cache.get("Bonjour.")
    files = sorted((cache.folder / "tts").iterdir())
    assert cache.get("Bonjour.") == first
    assert cache.get(" Bonjour. ") == first
    assert engine.calls == ["Bonjour."]
    assert sorted((cache.folder / "tts").iterdir()) == files


def test_a_cache_survives_a_restart(tmp_path: Path) -> None:
    first_engine, second_engine = FakeEngine(), FakeEngine()
    uri = TtsCache(first_engine, tmp_path, IN_ASTERISK).get("Bonjour.")
    assert TtsCache(second_engine, tmp_path, IN_ASTERISK).get("Bonjour.") == uri
    assert second_engine.calls == []


def test_empty_text_is_an_error(cache: TtsCache, engine: FakeEngine) -> None:
    with pytest.raises(TtsError, match="empty"):
        cache.get(" \n ")
    assert engine.calls == []


def test_failed_synthesis_leaves_nothing_behind(cache: TtsCache) -> None:
    with pytest.raises(TtsError, match="exploded"):
        cache.get("BOOM")
    folder = cache.folder / "tts"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_same_text_at_once_is_synthesised_once(cache: TtsCache, engine: FakeEngine) -> None:
    engine.release.clear()  # hold the first synthesis until every request is submitted
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(cache.get, "Bonjour.") for _ in range(8)]
        engine.release.set()
        uris = {f.result() for f in futures}
    assert len(uris) == 1
    assert engine.calls == ["Bonjour."]


# ---- Atomic write


def test_atomic_write_creates_folders_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "x.wav"
    atomic_write(target, b"data")
    assert target.read_bytes() == b"data"
    assert [p.name for p in target.parent.iterdir()] == ["x.wav"]


def test_readers_never_see_a_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.wav"
    target.write_bytes(b"old complete file")
    seen_during_write: list[tuple[bytes, list[str]]] = []
    real_fsync = os.fsync

    def spy_fsync(fd: int) -> None:
        # The new bytes are all written but not yet renamed: the target still holds the old file whole,
        # and the temporary does not end in .wav, so Asterisk could not pick it up.
        real_fsync(fd)
        seen_during_write.append((target.read_bytes(), sorted(p.name for p in tmp_path.iterdir())))

    monkeypatch.setattr(os, "fsync", spy_fsync)
    atomic_write(target, b"new complete file")
    assert target.read_bytes() == b"new complete file"
    ((content, names),) = seen_during_write
    assert content == b"old complete file"
    temporaries = [n for n in names if n != "x.wav"]
    assert len(temporaries) == 1
    assert temporaries[0].startswith(".") and not temporaries[0].endswith(".wav")


def test_atomic_write_cleans_up_when_the_rename_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "x.wav", b"data")
    assert list(tmp_path.iterdir()) == []


# ---- Warm-up


def test_warm_synthesises_what_is_missing_once(cache: TtsCache, engine: FakeEngine) -> None:
    cache.get("Un.")
    report = cache.warm(["Un.", "Deux.", "Trois.", "Deux.", " Trois. ", ""])
    assert (report.generated, report.cached, report.failed) == (2, 1, {})
    assert sorted(engine.calls) == ["Deux.", "Trois.", "Un."]
    assert report.seconds >= 0


def test_warm_reports_failures_without_raising(cache: TtsCache) -> None:
    report = cache.warm(["Un.", "BOOM deux."])
    assert report.generated == 1
    assert set(report.failed) == {"BOOM deux."}
    assert "exploded" in report.failed["BOOM deux."]
    assert cache.is_cached("Un.")


def test_async_wrappers_synthesise_off_the_event_loop(cache: TtsCache, engine: FakeEngine) -> None:
    async def run() -> tuple[str, int]:
        uri = await cache.aget("Bonjour.")
        await cache.awarm(["Un.", "Deux."])
        return uri, threading.get_ident()

    uri, loop_thread = asyncio.run(run())
    assert uri == cache.uri_for("Bonjour.")
    assert engine.threads and loop_thread not in engine.threads


# ---- Engine errors (no subprocess runs here)


def test_missing_espeak_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda program: None)
    with pytest.raises(TtsUnavailable, match=r"espeak-ng is not installed .*apt-get install espeak-ng"):
        EspeakEngine().synthesize("Bonjour.")
    with pytest.raises(TtsUnavailable, match="espeak-ng"):
        EspeakEngine().check()


def test_missing_sox_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda program: None if program == "sox" else "/bin/true")
    with pytest.raises(TtsUnavailable, match=r"sox is not installed .*apt-get install sox"):
        EspeakEngine().synthesize("Bonjour.")


def test_espeak_refuses_empty_text() -> None:
    with pytest.raises(TtsError, match="empty"):
        EspeakEngine().synthesize("   ")
