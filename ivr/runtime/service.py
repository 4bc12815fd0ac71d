"""Assemble the IVR from the settings: ARI client, call store, prompts, call flow factory."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from hotline.settings import Settings
from ivr.ari.client import AriClient, AriConfig
from ivr.flow.call_flow import CallFlow
from ivr.flow.menu import DEFAULT_MENU_FILE, load_menu
from ivr.flow.prompts import PROMPT_TEXTS
from ivr.prompts.cache import TtsCache
from ivr.prompts.recorded import RecordedCatalog
from ivr.prompts.resolver import PromptResolver, kb_answers_from
from ivr.prompts.tts import EspeakEngine
from ivr.runtime.fallback import import_fallback_calls
from ivr.runtime.ivr_app import IvrApp
from ivr.runtime.media import PromptMedia
from ivr.runtime.store import CallStore
from kb.loader import KnowledgeBase

log = logging.getLogger(__name__)


@dataclass
class Ivr:
    app: IvrApp
    client: AriClient
    resolver: PromptResolver

    async def run(self) -> None:
        """Warm the prompts in the background, then keep the ARI app connected until cancelled."""
        warm = asyncio.create_task(self._warm())
        try:
            await self.app.run()
        finally:
            warm.cancel()
            await self.client.aclose()

    async def _warm(self) -> None:
        report = await self.resolver.awarm_all()
        log.info("prompts ready: %s", report.summary())


def build_ivr(settings: Settings, engine: Engine, kb: KnowledgeBase) -> Ivr:
    config = AriConfig(
        settings.ari_url, settings.ari_user, settings.ari_password.get_secret_value(), settings.ari_app
    )
    client = AriClient(config)
    tts = EspeakEngine()
    tts.check()
    cache = TtsCache.from_settings(settings, tts)
    # The sandbox chroot holds Asterisk's French recordings; in production they live with Asterisk and
    # every prompt is TTS unless the sounds are shared.
    catalog = RecordedCatalog.from_asterisk_root(settings.asterisk_root)
    resolver = PromptResolver(PROMPT_TEXTS, cache, kb_answers_from(kb, settings.kb_path), catalog)
    menu = load_menu(DEFAULT_MENU_FILE, kb.ids())
    actions = {e.id: e.action for e in kb.entries}
    store = CallStore(engine, kb)

    def new_flow() -> CallFlow:
        return CallFlow(menu, actions, crisis_message=settings.crisis_message)

    app = IvrApp(config, client, PromptMedia(resolver), store, new_flow)

    async def import_fallback() -> None:
        # Calls the dialplan took while the app was away become tickets as soon as it is back.
        dossiers = await asyncio.to_thread(
            import_fallback_calls, settings.effective_fallback_spool_dir(), engine, settings.toll_free_number
        )
        if dossiers:
            log.info("imported %d fallback call(s)", len(dossiers))

    app.on_connected_hooks.append(import_fallback)
    return Ivr(app, client, resolver)
