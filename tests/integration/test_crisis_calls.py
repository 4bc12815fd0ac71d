"""Each call reads the crisis state when it comes in: the flow plays the pre-announcement and the call's row
records that crisis mode was on. A supervisor's switch in another process reaches new calls within seconds."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import select

from hotline.bus import EventBus
from hotline.services.crisis import CRISIS_REFRESH_S, CrisisService
from hotline.settings import Settings
from hotline.storage.db import session_scope
from hotline.storage.models import Call
from ivr.ari.client import AriConfig
from ivr.flow.call_flow import CallFlow
from ivr.runtime.ivr_app import IvrApp
from ivr.runtime.service import build_ivr
from ivr.runtime.store import CallStore
from tests.integration.fake_ari import FakeAri, stasis_end
from tests.integration.test_ivr_app import KB, LabelMedia, settle

MESSAGE = "Coupure d'eau à Vauclair jusqu'à dix-huit heures."


def settings(tmp_path: Path) -> Settings:
    return Settings(
        ari_url="http://127.0.0.1:9/ari", speech_enabled=False, data_dir=tmp_path, prompts_dir=tmp_path / "prompts"
    )


async def test_a_call_records_whether_crisis_mode_was_on(engine: Engine, tmp_path: Path) -> None:
    bus = EventBus()
    crisis = CrisisService(engine, bus)
    ivr = build_ivr(settings(tmp_path), engine, KB, bus=bus, crisis=crisis)
    ari = FakeAri()
    app = IvrApp(
        AriConfig("http://127.0.0.1:1/ari", "u", "p", "hotline"),
        ari,
        LabelMedia(),
        CallStore(engine, KB, bus),
        ivr.app.flow_factory,
    )
    await app.handle(ari.stasis_start("calm.1"))
    crisis.set(True, MESSAGE, by="superviseur1")
    await app.handle(ari.stasis_start("crisis.1"))
    await settle(app)
    # The greeting, then the crisis pre-announcement, for the call taken during the crisis only.
    await app.handle(ari.finish(ari.last_playback("crisis.1")))
    await app.handle(ari.finish(ari.last_playback("calm.1")))
    await settle(app)
    assert any(MESSAGE in " ".join(media) for media in ari.plays("crisis.1"))
    assert not any(MESSAGE in " ".join(media) for media in ari.plays("calm.1"))
    for channel in ("calm.1", "crisis.1"):
        await app.handle(stasis_end(channel))
    await settle(app)
    with session_scope(engine, write=False) as s:
        rows = {c.channel_id: c.crisis_mode for c in s.exec(select(Call))}
    assert rows == {"calm.1": False, "crisis.1": True}


async def test_a_switch_made_in_another_process_reaches_new_calls(engine: Engine, tmp_path: Path) -> None:
    ivr = build_ivr(settings(tmp_path), engine, KB, crisis=CrisisService(engine, None))
    follow = asyncio.create_task(ivr._follow_crisis())
    try:
        flow = ivr.app.flow_factory()
        assert isinstance(flow, CallFlow) and not flow.crisis_mode
        CrisisService(engine, None).set(True, MESSAGE, by="superviseur1")  # the supervisor's process
        for _ in range(int(CRISIS_REFRESH_S * 20) + 40):
            await asyncio.sleep(0.05)
            if ivr.app.flow_factory().crisis_mode:
                break
        assert ivr.app.flow_factory().crisis_mode
    finally:
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow


async def test_the_crisis_message_setting_is_the_state_until_a_supervisor_sets_one(
    engine: Engine, tmp_path: Path
) -> None:
    ivr = build_ivr(settings(tmp_path).model_copy(update={"crisis_message": MESSAGE}), engine, KB)
    assert ivr.app.flow_factory().crisis_mode
    ivr.crisis.refresh()  # no row yet: the setting stands
    assert ivr.app.flow_factory().crisis_mode
    CrisisService(engine, None).set(False, None, by="superviseur1")
    ivr.crisis.refresh()
    assert not ivr.app.flow_factory().crisis_mode
