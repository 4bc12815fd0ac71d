"""The ticket workflow: every status change, allowed and refused, and what each call outcome leaves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline.domain import tickets as rules
from hotline.domain.enums import CallOutcome, TicketStatus

S = TicketStatus
# Written out by hand from the workflow: nouveau → en cours → (en attente de rappel | transmis au service)
# → résolu → clos, and "rouvrir"; a new ticket may be settled at once by its call.
ALLOWED = {
    (S.OPEN, S.IN_PROGRESS),
    (S.OPEN, S.WAITING_CALLBACK),
    (S.OPEN, S.ESCALATED),
    (S.OPEN, S.RESOLVED),
    (S.OPEN, S.CLOSED),
    (S.IN_PROGRESS, S.WAITING_CALLBACK),
    (S.IN_PROGRESS, S.ESCALATED),
    (S.IN_PROGRESS, S.RESOLVED),
    (S.WAITING_CALLBACK, S.IN_PROGRESS),
    (S.WAITING_CALLBACK, S.ESCALATED),
    (S.WAITING_CALLBACK, S.RESOLVED),
    (S.ESCALATED, S.IN_PROGRESS),
    (S.ESCALATED, S.WAITING_CALLBACK),
    (S.ESCALATED, S.RESOLVED),
    (S.RESOLVED, S.CLOSED),
    (S.RESOLVED, S.IN_PROGRESS),  # rouvrir
    (S.CLOSED, S.IN_PROGRESS),  # rouvrir
}
ALL_PAIRS = [(a, b) for a in S for b in S if a != b]


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_change(current: TicketStatus, target: TicketStatus) -> None:
    assert rules.can_change(current, target)
    rules.check_change(current, target)  # does not raise


@pytest.mark.parametrize(("current", "target"), sorted(set(ALL_PAIRS) - ALLOWED))
def test_refused_change(current: TicketStatus, target: TicketStatus) -> None:
    assert not rules.can_change(current, target)
    with pytest.raises(rules.TransitionNotAllowedError) as refused:
        rules.check_change(current, target)
    # The agent reads why, in French, with both statuses named.
    assert rules.STATUS_LABELS[current] in str(refused.value) and rules.STATUS_LABELS[target] in str(refused.value)


def test_staying_put_is_not_a_change() -> None:
    assert not any(rules.can_change(s, s) for s in S)


def test_every_status_has_a_french_label() -> None:
    assert rules.STATUS_LABELS == {
        S.OPEN: "nouveau",
        S.IN_PROGRESS: "en cours",
        S.WAITING_CALLBACK: "en attente de rappel",
        S.ESCALATED: "transmis au service",
        S.RESOLVED: "résolu",
        S.CLOSED: "clos",
    }


@pytest.mark.parametrize("status", list(S))
def test_only_done_tickets_reopen(status: TicketStatus) -> None:
    assert rules.can_reopen(status) is (status in (S.RESOLVED, S.CLOSED))


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (CallOutcome.SELF_SERVED, S.RESOLVED),
        (CallOutcome.TO_AGENT, S.IN_PROGRESS),
        (CallOutcome.CALLBACK_REQUESTED, S.WAITING_CALLBACK),
        (CallOutcome.ABANDONED, S.CLOSED),
        (CallOutcome.FALLBACK, None),  # an open ticket stays open: an agent must look at it
        (CallOutcome.IN_PROGRESS, None),
    ],
)
def test_a_new_tickets_status_after_its_call(outcome: CallOutcome, expected: TicketStatus | None) -> None:
    assert rules.status_after_call(S.OPEN, outcome, needs_callback=False) == expected


@pytest.mark.parametrize("outcome", [CallOutcome.ABANDONED, CallOutcome.FALLBACK, CallOutcome.CALLBACK_REQUESTED])
def test_a_promised_callback_survives_the_end_of_the_call(outcome: CallOutcome) -> None:
    assert rules.status_after_call(S.WAITING_CALLBACK, outcome, needs_callback=True) is None


def test_the_end_of_a_call_never_pulls_back_a_ticket_an_agent_moved_on() -> None:
    # Escalated to a service while the caller was still on the line, then the caller hung up.
    assert rules.status_after_call(S.ESCALATED, CallOutcome.ABANDONED, needs_callback=False) is None
    # Resolved by an agent: the call's end does not reopen it as "en cours".
    assert rules.status_after_call(S.RESOLVED, CallOutcome.TO_AGENT, needs_callback=False) is None


T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_resolved_at_is_set_on_resolution_kept_on_closing_and_cleared_on_reopening() -> None:
    assert rules.resolved_at_after(S.RESOLVED, None, T0) == T0
    assert rules.resolved_at_after(S.CLOSED, T0, T1) == T0  # closing a resolved ticket keeps its time
    assert rules.resolved_at_after(S.CLOSED, None, T1) == T1  # closed straight away (an abandoned call)
    assert rules.resolved_at_after(S.IN_PROGRESS, T0, T1) is None  # reopened
    assert rules.resolved_at_after(S.WAITING_CALLBACK, None, T1) is None


def test_subjects() -> None:
    assert rules.subject_for_call(CallOutcome.ABANDONED, None) == "Appel abandonné"
    assert rules.subject_for_call(CallOutcome.SELF_SERVED, "Horaires de la mairie") == "Horaires de la mairie"
    assert rules.subject_for_callback("caller_asked", None) == "Demande de rappel (caller_asked)"
    assert rules.subject_for_callback("", None) == "Demande de rappel"
    assert rules.subject_for_callback("transfer", "Eau potable") == "Eau potable"
    assert set(rules.SUBJECT_BY_OUTCOME) == set(CallOutcome)
