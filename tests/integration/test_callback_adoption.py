"""A callback conversation survives a restart of the app: the next run finds both legs bridged and follows them
again (either hang-up ends the other, the agent goes to wrap-up); one whose legs did not survive is closed and
its agent goes to wrap-up instead of staying "on call" for ever. Real database, ARI faked in process."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import Engine

from hotline.domain.callbacks import AttemptResult
from hotline.domain.enums import AgentState
from hotline.services.callbacks import CallbackService
from hotline.services.queue import QueueService
from hotline.storage.db import session_scope
from hotline.storage.models import Agent, utc_now
from ivr.runtime.acd import Acd
from ivr.runtime.callback_calls import CallbackDialling, callback_leg_pairs
from tests.integration.fake_ari import FakeAri
from tests.integration.test_callback_service import callback_from_the_queue, notes, state_of
from tests.integration.test_queue_service import make_agent

DIALLING = CallbackDialling(app="hotline", trunk="127.0.0.1:5099", caller_id="0800123456")


def bridged_callback(engine: Engine) -> tuple[int, int]:
    """A callback the previous run placed: the agent answered, then the citizen; (callback id, agent id)."""
    callback_id, _ = callback_from_the_queue(engine)
    service = CallbackService(engine)
    alice = make_agent(engine, "alice")
    placed = service.offer(callback_id, alice, anytime=True)
    service.agent_answered(placed)
    service.attempt_ended(placed, AttemptResult.ANSWERED)
    assert state_of(engine, alice)[0] is AgentState.ON_CALL
    return callback_id, alice


def test_the_pairs_of_callback_legs() -> None:
    held = ["hotline-callback-7-agent-a1b2c3", "hotline-callback-7-citizen-0f0f0f", "hotline-callback-8-agent-aaaaaa",
            "1701.5", "hotline-agent-3-abc"]  # fmt: skip
    assert callback_leg_pairs(held) == {7: ("hotline-callback-7-agent-a1b2c3", "hotline-callback-7-citizen-0f0f0f")}


def test_a_bridged_callback_conversation_is_followed_again_after_a_restart(engine: Engine) -> None:
    callback_id, alice = bridged_callback(engine)
    [(placed, _)] = CallbackService(engine).conversations_left()
    assert placed.callback_id == callback_id and placed.agent_id == alice
    agent_leg, citizen_leg = (
        f"hotline-callback-{callback_id}-agent-a1b2c3",
        f"hotline-callback-{callback_id}-citizen-d4e5f6",
    )
    ari = FakeAri(
        held={agent_leg, citizen_leg}, bridge_members={f"hotline-cbconv-{callback_id}-0a0b": [agent_leg, citizen_leg]}
    )

    async def scenario() -> None:
        acd = Acd(ari, QueueService(engine), "hotline", callbacks=CallbackService(engine), dialling=DIALLING)  # type: ignore[arg-type]
        await acd.adoption_done({}, set(ari.held))
        assert ("hangup", agent_leg) not in ari.requests and ("hangup", citizen_leg) not in ari.requests, "it goes on"
        assert state_of(engine, alice)[0] is AgentState.ON_CALL
        await acd.agent_leg_gone(citizen_leg, "normal", 16)  # the citizen hangs up
        assert ("hangup", agent_leg) in ari.requests, "the agent's leg follows"

    asyncio.run(scenario())
    assert state_of(engine, alice)[0] is AgentState.WRAP_UP
    assert notes(engine)[-1].startswith("Conversation de rappel terminée")
    assert CallbackService(engine).conversations_left() == []


def test_a_callback_conversation_whose_legs_are_gone_ends_with_a_wrap_up(engine: Engine) -> None:
    _, alice = bridged_callback(engine)
    ari = FakeAri()  # the legs ended while no app was there

    async def scenario() -> None:
        acd = Acd(ari, QueueService(engine), "hotline", callbacks=CallbackService(engine), dialling=DIALLING)  # type: ignore[arg-type]
        await acd.adoption_done({}, set())

    asyncio.run(scenario())
    assert state_of(engine, alice)[0] is AgentState.WRAP_UP, "not on call for ever"
    assert notes(engine)[-1].startswith("Conversation de rappel terminée")


def test_an_agent_on_another_call_since_is_left_alone(engine: Engine) -> None:
    _, alice = bridged_callback(engine)
    with session_scope(engine) as s:  # wrap-up, available, then a queue call answered: on call again, later
        agent = s.get(Agent, alice)
        assert agent is not None
        agent.state, agent.state_changed_at = AgentState.ON_CALL, utc_now() + timedelta(seconds=5)
        s.add(agent)
    assert state_of(engine, alice)[0] is AgentState.ON_CALL
    # the callback's ticket still asks for it: only the agent's later change tells the two calls apart
    assert CallbackService(engine).conversations_left() == []
