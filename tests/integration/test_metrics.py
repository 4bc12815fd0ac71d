"""/metrics: what the counters, histograms and gauges say after known events, and promtool's own check."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from hotline import bus as events
from hotline.domain.enums import AgentState, CallOutcome, QueueEntryState
from hotline.services.metrics import METRICS, HotlineMetrics
from hotline.services.supervision import Supervision, SupervisionRules
from hotline.settings import DEFAULT_KB_PATH
from hotline.storage.db import session_scope
from hotline.storage.models import Agent, Call, QueueEntry
from hotline.web.app import create_web_app
from hotline.web.deps import WebParts
from kb.loader import load_kb

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CALLER = "0612345678"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:  # CI installs Debian's prometheus package (scripts/setup): missing is a failure
        raise AssertionError("promtool is missing: run scripts/setup (it installs Debian's prometheus package)")
    return path


def seed_live(engine: Engine) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        waiting = Call(
            channel_id="m-1", caller_number=CALLER, called_number="0800123456", started_at=now - timedelta(seconds=50)
        )
        ivr = Call(
            channel_id="m-2", caller_number=CALLER, called_number="0800123456", started_at=now - timedelta(seconds=5)
        )
        s.add_all([waiting, ivr])
        s.flush()
        s.add(
            QueueEntry(
                call_id=waiting.id,
                enqueued_at=now - timedelta(seconds=42),
                state=QueueEntryState.WAITING,
                caller_phone=CALLER,
            )
        )
        s.add(Agent(login="chloe", display_name="Chloé Martin", sip_endpoint="agent-9201", state=AgentState.AVAILABLE))


def test_events_become_counters_and_histograms(engine: Engine) -> None:
    m = HotlineMetrics()
    m.on_event(events.CallEnded(call_id=1, outcome="self_served", topic="eau", dossier="X", at=T0))
    m.on_event(events.CallEnded(call_id=2, outcome="self_served", topic=None, dossier="Y", at=T0))
    m.on_event(events.CallEnded(call_id=3, outcome="abandoned", topic=None, dossier="Z", at=T0))
    m.on_event(events.QueueChanged(entry_id=7, call_id=3, state="waiting", at=T0))
    m.on_event(events.QueueChanged(entry_id=7, call_id=3, state="offered", at=T0 + timedelta(seconds=8)))
    m.on_event(events.QueueChanged(entry_id=7, call_id=3, state="answered", at=T0 + timedelta(seconds=12)))
    m.on_event(events.QueueChanged(entry_id=8, call_id=4, state="waiting", at=T0))
    m.on_event(events.QueueChanged(entry_id=8, call_id=4, state="abandoned", at=T0 + timedelta(seconds=70)))
    m.on_event(events.QueueChanged(entry_id=99, call_id=5, state="answered", at=T0))  # queued before this process
    for state, after in (("ringing", 0), ("on_call", 3), ("wrap_up", 183), ("available", 208)):
        m.on_event(
            events.AgentStateChanged(
                agent_id=1, from_state="x", to_state=state, reason=None, at=T0 + timedelta(seconds=after)
            )
        )
    m.on_event(events.CallbackChanged(callback_id=1, ticket_id=1, state="pending", result="no_answer"))
    m.on_event(events.CallbackChanged(callback_id=1, ticket_id=1, state="pending"))  # no attempt ended
    m.on_call_step("speech_turn", {"text": "bonjour"})
    m.on_call_step("speech_answer_sent", {"ms": 640.0})
    m.on_call_step("speech_not_understood", {"score": 0.2})
    got = samples(m.render().decode())
    assert got[("hotline_calls_offered_total", (("outcome", "self_served"),))] == 2
    assert got[("hotline_calls_offered_total", (("outcome", "abandoned"),))] == 1
    assert got[("hotline_calls_offered_total", (("outcome", "to_agent"),))] == 0  # shown from the start
    assert got[("hotline_ivr_self_served_total", (("topic", "eau"),))] == 1
    assert got[("hotline_ivr_self_served_total", (("topic", "aucun"),))] == 1
    assert got[("hotline_queue_wait_seconds_count", (("outcome", "answered"),))] == 1
    assert got[("hotline_queue_wait_seconds_sum", (("outcome", "answered"),))] == 12
    assert got[("hotline_queue_wait_seconds_bucket", (("le", "10.0"), ("outcome", "answered")))] == 0
    assert got[("hotline_queue_wait_seconds_bucket", (("le", "20.0"), ("outcome", "answered")))] == 1
    assert got[("hotline_queue_wait_seconds_sum", (("outcome", "abandoned"),))] == 70
    assert (got[("hotline_talk_seconds_sum", ())], got[("hotline_wrap_up_seconds_sum", ())]) == (180, 25)
    assert got[("hotline_callback_attempts_total", (("result", "no_answer"),))] == 1
    assert got[("hotline_speech_turns_total", ())] == 1
    assert got[("hotline_speech_not_understood_total", ())] == 1
    assert got[("hotline_speech_turn_latency_seconds_sum", ())] == pytest.approx(0.64)


def test_gauges_come_from_the_snapshot_and_no_person_shows(engine: Engine) -> None:
    seed_live(engine)
    m = HotlineMetrics(Supervision(engine, SupervisionRules(), "Europe/Paris").snapshot, lambda: True)
    text = m.render().decode()
    got = samples(text)
    assert got[("hotline_ivr_calls", ())] == 1
    assert got[("hotline_queue_calls", ())] == 1
    assert got[("hotline_queue_oldest_wait_seconds", ())] == pytest.approx(42, abs=2)
    assert got[("hotline_agents", (("state", "available"),))] == 1
    assert got[("hotline_agents", (("state", "on_call"),))] == 0
    assert got[("hotline_agents_logged_in", ())] == 1
    assert got[("hotline_ari_connected", ())] == 1
    assert got[("hotline_service_level_goal_ratio", ())] == 0.8
    assert ("hotline_service_level_ratio", ()) not in got  # no call answered today: no ratio rather than 0
    for private in (CALLER, "Chloé", "Martin", "chloe"):
        assert private not in text


def test_promtool_accepts_the_output(engine: Engine) -> None:
    seed_live(engine)
    m = HotlineMetrics(Supervision(engine, SupervisionRules(), "Europe/Paris").snapshot, lambda: False)
    m.on_event(events.CallEnded(call_id=1, outcome="self_served", topic="eau", dossier="X", at=T0))
    result = subprocess.run([promtool(), "check", "metrics"], input=m.render(), capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_the_web_app_serves_metrics(engine: Engine) -> None:
    seed_live(engine)
    m = HotlineMetrics(Supervision(engine, SupervisionRules(), "Europe/Paris").snapshot)
    parts = WebParts(
        engine=engine, kb=load_kb(DEFAULT_KB_PATH), matcher=lambda: None, ari_connected=lambda: False, metrics=m.render
    )
    with TestClient(create_web_app(parts)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "hotline_queue_calls 1.0" in response.text


def test_a_busy_day_exports_exactly_the_metrics_the_dashboards_may_use(engine: Engine) -> None:
    seed_live(engine)
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        served = Call(channel_id="m-3", called_number="0800123456", started_at=now - timedelta(seconds=90),
                      ended_at=now - timedelta(seconds=30), outcome=CallOutcome.TO_AGENT, topic="eau")  # fmt: skip
        s.add(served)
        s.flush()
        s.add(QueueEntry(call_id=served.id, enqueued_at=now - timedelta(seconds=80), state=QueueEntryState.ANSWERED,
                         answered_at=now - timedelta(seconds=70), left_at=now - timedelta(seconds=30),
                         wrapped_up_at=now - timedelta(seconds=20)))  # fmt: skip
    m = HotlineMetrics(Supervision(engine, SupervisionRules(), "Europe/Paris").snapshot, lambda: True)
    m.on_event(events.CallEnded(call_id=1, outcome="self_served", topic="eau", dossier="X", at=T0))
    m.on_event(events.CallbackChanged(callback_id=1, ticket_id=1, state="pending", result="busy"))
    exported = {
        f.name + ("_total" if f.type == "counter" else ""): f.type
        for f in text_string_to_metric_families(m.render().decode())
    }
    assert exported == METRICS
