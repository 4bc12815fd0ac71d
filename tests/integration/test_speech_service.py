"""The service without a usable speech model still takes calls, keys-only (and says so in its log)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest

from hotline.settings import DEFAULT_KB_PATH, Settings
from hotline.storage.db import make_engine, upgrade_database
from ivr.flow.call_flow import CallFlow
from ivr.runtime.service import build_ivr
from kb.loader import load_kb


async def test_a_missing_vosk_model_leaves_a_keys_only_hotline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    settings = Settings(
        ari_url="http://127.0.0.1:9/ari",  # nothing listens: the app keeps retrying, which is fine here
        vosk_model_path=tmp_path / "no-such-model",
        data_dir=tmp_path,
        prompts_dir=tmp_path / "prompts",
    )
    ivr = build_ivr(settings, engine, load_kb(DEFAULT_KB_PATH))
    assert ivr.app.speech_factory is not None
    flow = ivr.app.flow_factory()
    assert isinstance(flow, CallFlow) and flow._speech_enabled  # before loading: speech is meant to be on
    with caplog.at_level(logging.ERROR, logger="ivr.runtime.service"):
        task = asyncio.create_task(ivr.run())
        for _ in range(200):
            await asyncio.sleep(0.05)
            if ivr.app.speech_factory is None:
                break
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert ivr.app.speech_factory is None
    assert "keys-only" in caplog.text
    flow = ivr.app.flow_factory()
    assert isinstance(flow, CallFlow) and not flow._speech_enabled
    engine.dispose()
