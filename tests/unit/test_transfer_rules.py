"""Transfers: the targets an agent may give, the ticket's trail, and a caller transferred to one agent."""

from datetime import UTC, datetime

import pytest

from hotline.domain.enums import AgentState
from hotline.domain.queue import AgentSnapshot, WaitingCaller, assignments
from hotline.domain.transfers import TransferKind, TransferTarget, TransferTargetError, parse_target, transfer_note

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_targets() -> None:
    assert parse_target("agent:bob") == TransferTarget(TransferKind.AGENT, "bob")
    assert parse_target(" skill:eau ") == TransferTarget(TransferKind.SKILL, "eau")
    assert parse_target("number:+33 3 80 12 34 56") == TransferTarget(TransferKind.NUMBER, "+33380123456")
    assert parse_target("number:03.80.12.34.56").value == "0380123456"


@pytest.mark.parametrize("bad", ["bob", "agent:", "queue:eau", "number:mairie", "number:12", ""])
def test_bad_targets_say_the_forms(bad: str) -> None:
    with pytest.raises(TransferTargetError, match=r"agent:IDENTIFIANT|un numéro de téléphone"):
        parse_target(bad)


def test_the_trail() -> None:
    assert (
        transfer_note("Alice", parse_target("agent:bob"), "Bob Martin")
        == "Transféré par Alice au conseiller Bob Martin."
    )
    assert transfer_note("Alice", parse_target("skill:eau"), "eau") == "Transféré par Alice aux conseillers « eau »."
    assert (
        transfer_note("Alice", parse_target("number:0380123456"), "0380123456") == "Transféré par Alice au 0380123456."
    )


def test_a_caller_transferred_to_an_agent_waits_for_that_agent_only() -> None:
    caller = WaitingCaller(1, 30, NOW, "eau", only_agent_id=2)
    idle_longest = AgentSnapshot(1, AgentState.AVAILABLE, datetime(2026, 12, 2, 9, 0, tzinfo=UTC), frozenset({"eau"}))
    named = AgentSnapshot(2, AgentState.AVAILABLE, NOW, frozenset())
    assert assignments([caller], [idle_longest], NOW, skill_overflow_s=0) == []
    assert assignments([caller], [idle_longest, named], NOW) == [(caller, named)]
