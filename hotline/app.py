"""The composition root: every part of the running hotline is built here, once, from one Settings.

Nothing else builds the engine, the knowledge base, the matcher, the event bus, the services, the IVR or the
web app. To add a part,
give it a field on `Hotline` and build it in `build`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from hotline.bus import EventBus
from hotline.domain.report_days import parse_day_start
from hotline.services.agent_accounts import AgentAccounts
from hotline.services.agents import AgentService
from hotline.services.crisis import Crisis, CrisisService
from hotline.services.kpis import KpiRules
from hotline.services.metrics import HotlineMetrics
from hotline.services.supervision import Supervision, SupervisionRules
from hotline.services.tickets import TicketService
from hotline.settings import Settings
from hotline.storage.db import make_engine
from hotline.web.app import create_web_app
from hotline.web.deps import WebParts
from ivr.prompts.announcements import AnnouncementStudio
from ivr.prompts.cache import tts_cache_for
from ivr.prompts.tts import TtsError
from ivr.runtime.recordings import AriRecordings
from ivr.runtime.service import Ivr, build_ivr
from kb.loader import KnowledgeBase, load_kb
from kb.matcher import Matcher, build_matcher

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_S = 3  # how long a stop waits for open requests (the consoles' event streams) before cutting them

Background = Callable[[], Coroutine[Any, Any, None]]


class SharedMatcher:
    """The one matcher of the web API and the callers' speech, built on first use: loading the sentence
    encoder takes about a second, which a process that never matches (or the tests) should not pay."""

    def __init__(self, kb: KnowledgeBase, threshold: float | None, referrals_path: Path | None = None) -> None:
        self._kb = kb
        self._threshold = threshold
        self._referrals_path = referrals_path
        self._matcher: Matcher | None = None
        self._lock = threading.Lock()  # the IVR builds it in a thread, the web in its threadpool

    def __call__(self) -> Matcher:
        with self._lock:
            if self._matcher is None:
                self._matcher = build_matcher(self._kb, self._threshold, referrals_path=self._referrals_path)
            return self._matcher


@dataclass
class Hotline:
    """The parts of one hotline process."""

    settings: Settings
    engine: Engine
    kb: KnowledgeBase
    matcher: SharedMatcher
    bus: EventBus
    tickets: TicketService
    agents: AgentService
    crisis: CrisisService
    supervision: Supervision
    metrics: HotlineMetrics
    ivr: Ivr | None  # None: the web app alone (tests)

    def ari_connected(self) -> bool:
        return self.ivr is not None and self.ivr.app.connected

    def background(self) -> list[Background]:
        """What runs as its own task for as long as the web app is up."""
        followers = [self.follow_metrics, self.follow_supervision]
        return [*followers, self.ivr.run] if self.ivr is not None else followers

    async def follow_metrics(self) -> None:
        await self.metrics.follow(self.bus)

    async def follow_supervision(self) -> None:
        await self.supervision.follow(self.bus)

    def push_phones(self) -> str | None:
        """The active agents' phones to Asterisk now (an admin added one or reset its password); None when done,
        else a French note (the running IVR pushes them again at its next connection)."""
        from ivr.asterisk.agent_phones import AgentPhone, AgentPhoneError, AgentPhones

        active, disabled = AgentAccounts(self.engine).phones()
        phones = [AgentPhone(p.endpoint, p.digest, p.display_name) for p in active]
        s = self.settings
        try:
            with AgentPhones.connect(s.ari_url, s.ari_user, s.ari_secret()) as ari:
                ari.sync(phones, disabled)
        except AgentPhoneError as exc:
            log.warning("agents' phones not pushed to Asterisk: %s", exc)
            return "Asterisk n'a pas répondu : les téléphones lui seront envoyés à sa prochaine connexion."
        return None

    def announcements(self) -> AnnouncementStudio | None:
        """The supervisors' previews and uploads, in the IVR's own voice and prompts folder."""
        try:
            return AnnouncementStudio(tts_cache_for(self.settings))
        except (ValueError, TtsError) as exc:
            log.warning("crisis pre-announcements cannot be previewed or uploaded here: %s", exc)
            return None

    @cached_property
    def web(self) -> FastAPI:
        parts = WebParts(
            engine=self.engine,
            kb=self.kb,
            matcher=self.matcher,
            ari_connected=self.ari_connected,
            bus=self.bus,
            pause_reasons=tuple(self.settings.pause_reasons),
            transfers=self.ivr.acd if self.ivr is not None else None,
            supervising=self.ivr.acd.supervisions if self.ivr is not None and self.ivr.acd is not None else None,
            recordings=AriRecordings(self.ivr.client) if self.ivr is not None else None,
            session_idle_s=self.settings.session_idle_s,
            wrap_up_s=self.settings.agent_wrap_up_s,
            hotline_number=self.settings.toll_free_number,
            callback_hours=self.settings.callback_hours,
            push_phones=self.push_phones if self.ivr is not None else None,
            supervision=self.supervision,
            metrics=self.metrics.render,
            crisis=self.crisis,
            announcements=self.announcements(),
            timezone=self.settings.timezone,
            day_start=self.settings.day_start,
        )
        return create_web_app(parts, lifespan=self._lifespan)

    @asynccontextmanager
    async def _lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(run(), name=run.__qualname__) for run in self.background()]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.engine.dispose()


def build(settings: Settings, *, with_ivr: bool = True) -> Hotline:
    engine = make_engine(settings.effective_database_url())
    kb = load_kb(settings.kb_path)
    matcher = SharedMatcher(kb, settings.match_threshold, settings.referrals_path)
    bus = EventBus()
    tickets = TicketService(engine, bus, kb)
    agents = AgentService(engine, bus)
    # Until a supervisor sets it, crisis mode is what HOTLINE_CRISIS_MESSAGE says.
    crisis = CrisisService(engine, bus, Crisis(bool(settings.crisis_message), settings.crisis_message))
    supervision = Supervision(engine, supervision_rules(settings), settings.timezone, crisis_view(crisis))
    metrics = HotlineMetrics(supervision.snapshot)
    ivr = (
        build_ivr(settings, engine, kb, matcher, bus=bus, crisis=crisis, step_observer=metrics.on_call_step)
        if with_ivr
        else None
    )
    hotline = Hotline(
        settings=settings,
        engine=engine,
        kb=kb,
        matcher=matcher,
        bus=bus,
        tickets=tickets,
        agents=agents,
        crisis=crisis,
        supervision=supervision,
        metrics=metrics,
        ivr=ivr,
    )
    metrics.ari_connected = hotline.ari_connected
    return hotline


def supervision_rules(settings: Settings) -> SupervisionRules:
    kpi = KpiRules(settings.service_level_target_s, settings.short_abandon_s, settings.timezone)
    return SupervisionRules(kpi, parse_day_start(settings.day_start), settings.service_level_goal)


def crisis_view(crisis: CrisisService) -> Callable[[], dict[str, Any]]:
    def current() -> dict[str, Any]:
        state = crisis.refresh()  # one row: the wallboard shows a switch made by any process at once
        return {"active": state.active, "message": state.announcement}

    return current


def serve(settings: Settings, host: str, port: int) -> None:
    """The web app, the API and the IVR in one process and one event loop, until SIGINT or SIGTERM."""
    import uvicorn

    # Event streams never end by themselves: after this grace they are cut, so a restart is not held up.
    uvicorn.run(build(settings).web, host=host, port=port, log_level="info", loop="uvloop",
                timeout_graceful_shutdown=SHUTDOWN_GRACE_S)  # fmt: skip
