"""Assemble the IVR from the settings: ARI client, call store, prompts, call flow factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlalchemy.engine import Engine

from hotline.bus import EventBus
from hotline.domain.callbacks import OpeningHours
from hotline.domain.queue import PRIORITY_CRISIS, PRIORITY_NORMAL
from hotline.services.agent_accounts import AgentAccounts
from hotline.services.callbacks import CallbackService
from hotline.services.crisis import CRISIS_REFRESH_S, Crisis, CrisisService
from hotline.services.queue import QueueService
from hotline.services.site_settings import Defaults, SiteSettings
from hotline.settings import Settings
from ivr.ari.client import AriClient, AriConfig
from ivr.asterisk.agent_phones import AgentPhone, AgentPhones
from ivr.flow import events as ev
from ivr.flow.call_flow import CallFlow
from ivr.flow.menu import DEFAULT_MENU_FILE, load_menu
from ivr.flow.prompts import PLAYED_TOGETHER, PROMPT_TEXTS
from ivr.prompts.cache import tts_cache_for
from ivr.prompts.recorded import RecordedCatalog
from ivr.prompts.resolver import PromptResolver, kb_answers_from
from ivr.runtime.acd import Acd, QueueSettings
from ivr.runtime.callback_calls import CallbackDialling
from ivr.runtime.fallback import import_fallback_calls
from ivr.runtime.ivr_app import IvrApp
from ivr.runtime.media import PromptMedia
from ivr.runtime.rtp import RtpReceiver
from ivr.runtime.speech_tap import SpeechTap
from ivr.runtime.store import CallStore
from ivr.runtime.timeline import StepObserver
from ivr.speech.endpointing import DEFAULT_THRESHOLDS
from ivr.speech.listener import CallListener, TurnTimings
from ivr.speech.recognizer import Recognizer, make_recognizer
from kb.loader import KnowledgeBase
from kb.matcher import Matcher, build_matcher

log = logging.getLogger(__name__)


@dataclass
class SpeechParts:
    """The recogniser and matcher shared by every call; loaded before the app takes calls."""

    settings: Settings
    matcher_factory: Callable[[], Matcher]
    recognizer: Recognizer | None = None
    matcher: Matcher | None = None
    pinned: Callable[[], str | None] | None = None  # crisis mode's pinned entry, read at each turn

    def load(self) -> None:
        self.recognizer = make_recognizer(self.settings)
        self.matcher = self.matcher_factory()
        self.matcher.match("bonjour")  # loads the sentence encoder now, not during the first caller's turn

    def listener(
        self, name: str, deliver: Callable[[ev.Event], None], on_turn: Callable[[TurnTimings], None]
    ) -> CallListener:
        if self.recognizer is None:
            raise RuntimeError("speech is still loading")
        thresholds = replace(DEFAULT_THRESHOLDS, end_silence_ms=self.settings.speech_end_silence_ms)
        return CallListener(self.recognizer, self.matcher, deliver, on_turn, thresholds, name=f"ear-{name}",
                            pinned=self.pinned)  # fmt: skip


@dataclass
class Ivr:
    app: IvrApp
    client: AriClient
    resolver: PromptResolver
    crisis: CrisisService
    speech: SpeechParts | None = field(default=None)
    acd: Acd | None = field(default=None)

    async def run(self) -> None:
        """Warm the prompts in the background, load speech, then keep the ARI app connected until cancelled."""
        warm = asyncio.create_task(self._warm())
        crisis = asyncio.create_task(self._follow_crisis())
        acd = asyncio.create_task(self.acd.run()) if self.acd is not None else None
        try:
            if self.speech is not None:
                # Before connecting: while the app is away, the dialplan fallback takes the calls.
                started = asyncio.get_running_loop().time()
                try:
                    await asyncio.to_thread(self.speech.load)
                except Exception:
                    # Calls are still taken, with keys: a missing model must not take the hotline down.
                    log.exception("speech recognition unavailable; calls are keys-only")
                    self.app.speech_factory = None
                else:
                    name = self.speech.recognizer.name if self.speech.recognizer else "?"
                    log.info("speech ready (%s) in %.1f s", name, asyncio.get_running_loop().time() - started)
            await self.app.run()
        finally:
            warm.cancel()
            crisis.cancel()
            if acd is not None:
                acd.cancel()
            await self.client.aclose()

    async def _follow_crisis(self) -> None:
        """Keep the crisis state that new calls read fresh (a supervisor may switch it from another process)."""
        while True:
            try:
                await asyncio.to_thread(self.crisis.refresh)
            except Exception:
                log.exception("crisis state: refresh failed; new calls keep the last known state")
            await asyncio.sleep(CRISIS_REFRESH_S)

    async def _warm(self) -> None:
        report = await self.resolver.awarm_all()
        log.info("prompts ready: %s", report.summary())


def build_ivr(
    settings: Settings,
    engine: Engine,
    kb: KnowledgeBase,
    matcher_factory: Callable[[], Matcher] | None = None,
    bus: EventBus | None = None,
    crisis: CrisisService | None = None,
    step_observer: StepObserver | None = None,
) -> Ivr:
    """`matcher_factory` gives the matcher of speech turns (shared with the web API by the composition root);
    None builds one. `bus` carries the calls' and tickets' events; `crisis` is read for each new call;
    `step_observer` sees every step of every call's timeline (the metrics)."""
    config = AriConfig(settings.ari_url, settings.ari_user, settings.ari_secret(), settings.ari_app)
    client = AriClient(config)
    cache = tts_cache_for(settings)
    # The sandbox chroot holds Asterisk's French recordings; in production they live with Asterisk and
    # every prompt is TTS unless the sounds are shared.
    catalog = RecordedCatalog.from_asterisk_root(settings.asterisk_root)
    resolver = PromptResolver(
        PROMPT_TEXTS, cache, kb_answers_from(kb, settings.kb_path), catalog, played_together=PLAYED_TOGETHER
    )
    menu = load_menu(DEFAULT_MENU_FILE, kb.ids())
    actions = {e.id: e.action for e in kb.entries}
    store = CallStore(engine, kb, bus)
    if crisis is None:
        crisis = CrisisService(engine, bus, Crisis(bool(settings.crisis_message), settings.crisis_message))

    def new_flow() -> CallFlow:
        # Speech only when the recogniser is there: a keys-only call must not invite the caller to speak.
        speaking = app.speech_factory is not None
        now = crisis.current()  # in memory: kept fresh by Ivr._follow_crisis
        return CallFlow(menu, actions, crisis_message=now.announcement, speech_enabled=speaking, queue_enabled=True,
                        crisis_recording=now.announcement_recording)  # fmt: skip

    speech: SpeechParts | None = None
    speech_factory = None
    if settings.speech_enabled:
        speech = SpeechParts(
            settings,
            matcher_factory
            or (lambda: build_matcher(kb, settings.match_threshold, referrals_path=settings.referrals_path)),
            pinned=lambda: crisis.current().pinned,
        )
        parts = speech

        def speech_factory(
            channel_id: str, deliver: Callable[[ev.Event], None], on_turn: Callable[[TurnTimings], None]
        ) -> SpeechTap:
            listener = parts.listener(channel_id, deliver, on_turn)
            receiver = RtpReceiver(listener.push_ulaw, settings.speech_rtp_bind, settings.speech_rtp_host)
            return SpeechTap(channel_id, config.app, client, app.media_channels, listener, receiver)

    site = SiteSettings(engine, Defaults(tuple(settings.pause_reasons), settings.callback_hours))
    queue_settings = QueueSettings(
        announce_s=settings.queue_announce_s,
        skill_overflow_s=settings.queue_skill_overflow_s,
        ring_timeout_s=settings.agent_ring_timeout_s,
        wrap_up_s=settings.agent_wrap_up_s,
        callback_offer_s=settings.queue_callback_offer_s,
        max_wait_s=settings.queue_max_wait_s,
        callback_hours=OpeningHours.parse(settings.callback_hours),
        hours_source=site.callback_hours,
        timezone=settings.timezone,
        overflow_source=lambda: crisis.current().overflow_s,
    )
    callbacks = CallbackService(engine, bus, settings.callback_attempts, settings.callback_retry_s)
    dialling = (
        CallbackDialling(
            app=config.app,
            trunk=settings.carrier_trunk,
            caller_id=settings.toll_free_number,
            agent_ring_timeout_s=settings.agent_ring_timeout_s,
            citizen_ring_timeout_s=settings.callback_ring_timeout_s,
        )
        if settings.carrier_trunk
        else None
    )
    if dialling is None:
        log.warning("callbacks: no carrier trunk set (HOTLINE_CARRIER_TRUNK): requested callbacks wait, unplaced")
    crisis_entries = {e.id for e in kb.entries if e.crisis}

    def priority_of(faq_id: str | None) -> int:
        return PRIORITY_CRISIS if faq_id in crisis_entries else PRIORITY_NORMAL

    acd = Acd(client, QueueService(engine, bus), config.app, queue_settings, bus, priority_of, callbacks, dialling)
    app = IvrApp(config, client, PromptMedia(resolver), store, new_flow, speech_factory, acd, step_observer)

    async def import_fallback() -> None:
        # Calls the dialplan took while the app was away become tickets as soon as it is back.
        dossiers = await asyncio.to_thread(
            import_fallback_calls,
            settings.effective_fallback_spool_dir(),
            engine,
            settings.toll_free_number,
            store.tickets,
        )
        if dossiers:
            log.info("imported %d fallback call(s)", len(dossiers))

    accounts = AgentAccounts(engine, bus)

    async def push_agent_phones() -> None:
        # Asterisk may have been restarted (or recreated without its astdb): it gets every agent's phone again.
        def sync() -> tuple[list[str], list[str]]:
            active, disabled = accounts.phones()
            phones = [AgentPhone(p.endpoint, p.digest, p.display_name) for p in active]
            with AgentPhones.connect(settings.ari_url, settings.ari_user, settings.ari_secret()) as ari:
                return ari.sync(phones, disabled)

        try:
            pushed, removed = await asyncio.to_thread(sync)
        except Exception:
            log.exception("agents' phones: push to Asterisk failed; they are pushed again at the next connection")
        else:
            log.info("agents' phones in Asterisk: %d pushed, %d removed", len(pushed), len(removed))

    app.on_connected_hooks.append(import_fallback)
    app.on_connected_hooks.append(push_agent_phones)
    return Ivr(app, client, resolver, crisis, speech, acd)
