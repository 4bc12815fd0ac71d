"""The audio of a playback as the hotline plays it (its recordings, or its cached TTS in the configured voice),
to find it in what a caller heard."""

from __future__ import annotations

import asyncio

import numpy as np

from ivr.flow import commands as cmd
from ivr.flow.prompts import PROMPT_TEXTS
from ivr.prompts.cache import tts_cache_for
from ivr.prompts.recorded import RecordedCatalog
from ivr.prompts.resolver import PromptResolver
from ivr.runtime.media import PromptMedia
from tests.e2e.conftest import AsteriskSandbox
from tests.e2e.sip.audio import Samples, load_as_8k

SOUNDS_FR = "usr/share/asterisk/sounds/fr"  # asterisk-core-sounds-fr-wav, in the sandbox chroot


def play_audio(asterisk: AsteriskSandbox, *items: cmd.Media) -> Samples:
    """One playback of catalog prompts and free text, resolved by the hotline's own code: one voice, so one
    TTS file when any item has no recording (the hotline warmed it already; this only makes sure)."""
    cache = tts_cache_for(asterisk.settings)
    root = asterisk.root
    catalog = RecordedCatalog.from_asterisk_root(root) if root is not None else RecordedCatalog.empty()
    uris = asyncio.run(PromptMedia(PromptResolver(PROMPT_TEXTS, cache, {}, catalog)).resolve_all(items))
    tts_prefix = f"sound:{cache.folder_in_asterisk.rstrip('/')}/"
    pieces = []
    for uri in uris:
        if uri.startswith(tts_prefix):
            pieces.append(load_as_8k(cache.folder / f"{uri.removeprefix(tts_prefix)}.wav"))
        else:
            assert root is not None and uri.startswith("sound:"), uri
            pieces.append(load_as_8k(root / SOUNDS_FR / f"{uri.removeprefix('sound:')}.wav"))
    return np.concatenate(pieces)


def prompt_audio(asterisk: AsteriskSandbox, key: str) -> Samples:
    """A catalog prompt played alone."""
    return play_audio(asterisk, cmd.Prompt(key))
