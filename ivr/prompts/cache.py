"""The TTS file cache: one WAV per (engine, voice, prepared text), written where Asterisk can read it.

The text is prepared for speech (`prepare`, e.g. times and phone numbers into words) before it is keyed and
synthesised, so a change of preparation, engine or voice never serves stale audio.

Layout, under the prompts folder (settings.effective_prompts_dir() on this host, seen by Asterisk as
settings.prompts_dir_in_asterisk):
    tts/<sha256>.wav        synthesised speech
    recorded/<sha256>.wav   staff-recorded audio converted to the phone format (keyed by file content)

Files appear atomically: written to a hidden temporary file in the same folder, then renamed, so a call
playing a prompt never reads half a file. The temporary name does not end in .wav, so Asterisk never
picks one up as a sound. Synthesis blocks: from async code use the `a*` methods (worker threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from hotline.settings import Settings
from ivr.prompts.french_text import speakable
from ivr.prompts.tts import TtsEngine, TtsError, convert_file_to_phone_wav, engine_named

log = logging.getLogger(__name__)

TTS_SUBDIR = "tts"
RECORDED_SUBDIR = "recorded"
WAV_SUFFIX = ".wav"
FILE_MODE = 0o644  # Asterisk runs as its own user: the files must be world-readable
DIR_MODE = 0o755
# Synthesis is one short subprocess per text, mostly CPU: more workers than cores only adds contention.
MAX_WARM_WORKERS = max(1, min(4, os.cpu_count() or 1))
# Bump when the staff-audio conversion changes, so converted copies are redone.
RECORDED_CONVERSION_VERSION = "1"


def unchanged(text: str) -> str:
    """The default text preparation: none."""
    return text


def normalise_text(text: str) -> str:
    """The text as synthesised and hashed: Unicode NFC, whitespace collapsed (same sentence, same key)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def cache_key(engine_name: str, voice: str, text: str) -> str:
    """sha256 hex of (engine, voice, normalised text); stable across processes and Python versions."""
    payload = json.dumps([engine_name, voice, normalise_text(text)], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either no file or the whole file, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(FILE_MODE)  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@dataclass(frozen=True)
class WarmReport:
    """What a warm-up did."""

    generated: int  # files synthesised now
    cached: int  # already on disk
    failed: dict[str, str] = field(default_factory=dict)  # text → error
    seconds: float = 0.0


class TtsCache:
    """Synthesise once, play many times: text → Asterisk media URI of a cached WAV."""

    def __init__(
        self,
        engine: TtsEngine,
        folder: Path,
        folder_in_asterisk: str,
        prepare: Callable[[str], str] = unchanged,
    ) -> None:
        if not folder_in_asterisk.startswith("/"):
            raise ValueError(f"the prompts folder as Asterisk sees it must be absolute: {folder_in_asterisk!r}")
        self.engine = engine
        self.prepare = prepare  # French text → what the engine reads (before keying and synthesis)
        self.folder = folder
        self.folder_in_asterisk = folder_in_asterisk.rstrip("/") or "/"
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._imported: dict[tuple[str, int, int], str] = {}  # (path, mtime, size) → content key

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: TtsEngine, prepare: Callable[[str], str] = unchanged
    ) -> TtsCache:
        return cls(engine, settings.effective_prompts_dir(), settings.prompts_dir_in_asterisk, prepare)

    # ---- Naming

    def prepared(self, text: str) -> str:
        """What the engine reads for `text`: normalised, prepared for speech, normalised again."""
        return normalise_text(self.prepare(normalise_text(text)))

    def key(self, text: str) -> str:
        return cache_key(self.engine.name, self.engine.voice, self.prepared(text))

    def path_for(self, text: str) -> Path:
        """Where the text's audio is (or will be) on this host."""
        return self.folder / TTS_SUBDIR / f"{self.key(text)}{WAV_SUFFIX}"

    def uri_for_key(self, subdir: str, key: str) -> str:
        """The Asterisk media URI: an absolute path without extension (Asterisk picks the format)."""
        base = self.folder_in_asterisk.rstrip("/")
        return f"sound:{base}/{subdir}/{key}"

    def uri_for(self, text: str) -> str:
        """The URI the text's audio has once synthesised (does not synthesise)."""
        return self.uri_for_key(TTS_SUBDIR, self.key(text))

    def is_cached(self, text: str) -> bool:
        return self.path_for(text).is_file()

    # ---- Work (blocking: worker threads only)

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, text: str) -> str:
        """The URI of the text's audio, synthesising it first if it is not cached. Raises TtsError."""
        spoken = self.prepared(text)
        if not spoken:
            raise TtsError("nothing to say: the text is empty")
        key = cache_key(self.engine.name, self.engine.voice, spoken)
        path = self.folder / TTS_SUBDIR / f"{key}{WAV_SUFFIX}"
        if not path.is_file():
            # One synthesis per text even when several calls ask at once; different texts run in parallel.
            with self._lock(key):
                if not path.is_file():
                    atomic_write(path, self.engine.synthesize(spoken))
        return self.uri_for_key(TTS_SUBDIR, key)

    def import_audio(self, source: Path) -> str:
        """Convert a staff recording to the phone format into the prompts folder; its URI. Raises TtsError.

        Keyed by the file's content, so a re-recorded answer gets a new file and the old one is never served.
        """
        try:
            stat = source.stat()
            memo_key = (str(source.resolve()), stat.st_mtime_ns, stat.st_size)
            key = self._imported.get(memo_key)
            if key is None:
                digest = hashlib.sha256(source.read_bytes())
                digest.update(f"\0conversion-v{RECORDED_CONVERSION_VERSION}".encode())
                key = digest.hexdigest()
        except OSError as exc:
            raise TtsError(f"cannot read the recorded answer {source}: {exc}") from exc
        path = self.folder / RECORDED_SUBDIR / f"{key}{WAV_SUFFIX}"
        if not path.is_file():
            with self._lock(key):
                if not path.is_file():
                    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
                    with tempfile.TemporaryDirectory(prefix="hotline-audio-") as work:
                        converted = Path(work) / "converted.wav"
                        # No trim: a person's recording keeps the pauses they chose.
                        convert_file_to_phone_wav(source, converted, trim=False)
                        atomic_write(path, converted.read_bytes())
        self._imported[memo_key] = key  # unchanged file: no re-hashing on the next call
        return self.uri_for_key(RECORDED_SUBDIR, key)

    def warm(self, texts: Iterable[str]) -> WarmReport:
        """Synthesise every text not yet cached, in a thread pool. Failures are reported, not raised."""
        return self.warm_groups([texts])[0]

    def warm_groups(self, groups: Sequence[Iterable[str]]) -> list[WarmReport]:
        """`warm` for several groups of texts in one pool, a report per group, each timed to its last file.

        Groups go in the order given (the first ones are ready soonest); within a group the longest texts
        start first, so the pool does not end waiting on one long answer started last.
        """
        started = time.perf_counter()
        uniques = [list(dict.fromkeys(normalise_text(t) for t in texts if normalise_text(t))) for texts in groups]
        missing = [[t for t in unique if not self.is_cached(t)] for unique in uniques]
        failed: list[dict[str, str]] = [{} for _ in groups]
        done_at = [started] * len(groups)
        jobs = [(group, text) for group, texts in enumerate(missing) for text in texts]
        jobs.sort(key=lambda job: (job[0], -len(job[1])))

        def synthesise(group: int, text: str) -> None:
            try:
                self.get(text)
            except (TtsError, OSError) as exc:
                log.error("TTS warm-up failed for %r: %s", text[:60], exc)
                failed[group][text] = str(exc)
            done_at[group] = max(done_at[group], time.perf_counter())

        if jobs:
            with ThreadPoolExecutor(max_workers=MAX_WARM_WORKERS, thread_name_prefix="tts-warm") as pool:
                for future in [pool.submit(synthesise, group, text) for group, text in jobs]:
                    future.result()
        return [
            WarmReport(
                generated=len(missing[i]) - len(failed[i]),
                cached=len(uniques[i]) - len(missing[i]),
                failed=failed[i],
                seconds=done_at[i] - started if missing[i] else time.perf_counter() - started,
            )
            for i in range(len(groups))
        ]

    # ---- Async wrappers: never block the event loop

    async def aget(self, text: str) -> str:
        return await asyncio.to_thread(self.get, text)

    async def aimport_audio(self, source: Path) -> str:
        return await asyncio.to_thread(self.import_audio, source)

    async def awarm(self, texts: Iterable[str]) -> WarmReport:
        return await asyncio.to_thread(self.warm, list(texts))


def tts_cache_for(settings: Settings, engine_name: str | None = None) -> TtsCache:
    """The TTS cache every caller-facing path uses (the IVR, `hotline say`): the configured engine (or
    `engine_name`), checked, with Pico falling back to espeak-ng. Raises ValueError, TtsUnavailable."""
    engine = engine_named(engine_name if engine_name is not None else settings.tts_engine)
    return TtsCache.from_settings(settings, engine, prepare=speakable)
