"""The audio of a catalog prompt as the hotline plays it (its recording, or its cached TTS), to find it in
what a caller heard."""

from __future__ import annotations

from pathlib import Path

from ivr.flow.prompts import PROMPT_TEXTS
from ivr.prompts.cache import TTS_SUBDIR, TtsCache
from ivr.prompts.recorded import RecordedCatalog
from ivr.prompts.tts import EspeakEngine
from tests.e2e.conftest import AsteriskSandbox
from tests.e2e.sip.audio import Samples, load_as_8k

SOUNDS_FR = Path("usr/share/asterisk/sounds/fr")  # asterisk-core-sounds-fr-wav, in the sandbox chroot


def prompt_audio(asterisk: AsteriskSandbox, key: str) -> Samples:
    text = PROMPT_TEXTS[key]
    settings = asterisk.settings
    if asterisk.root is not None and (name := RecordedCatalog.from_asterisk_root(asterisk.root).find(text)):
        return load_as_8k(asterisk.root / SOUNDS_FR / f"{name}.wav")
    cache = TtsCache.from_settings(settings, EspeakEngine())
    cache.get(text)  # the hotline warmed it already; this only makes sure
    return load_as_8k(cache.folder / TTS_SUBDIR / f"{cache.key(text)}.wav")
