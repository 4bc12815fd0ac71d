"""The ticket rules: which status changes are allowed, what each call outcome leaves, subjects, resolution time.

Every caller that changes a ticket (the IVR's store, the console, Open311, the queue) goes through these rules,
by way of the ticket service. Pure: no I/O, standard library only.

The agents' workflow, in French as the console shows it:
    nouveau → en cours → (en attente de rappel | transmis au service) → résolu → clos, and "rouvrir".
The system also moves a fresh ticket straight to where its call left it (a self-served call is résolu at once,
an abandoned one clos).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hotline.domain.enums import DONE_TICKET_STATUSES, CallOutcome, TicketStatus

STATUS_LABELS: dict[TicketStatus, str] = {
    TicketStatus.OPEN: "nouveau",
    TicketStatus.IN_PROGRESS: "en cours",
    TicketStatus.WAITING_CALLBACK: "en attente de rappel",
    TicketStatus.ESCALATED: "transmis au service",
    TicketStatus.RESOLVED: "résolu",
    TicketStatus.CLOSED: "clos",
}
REOPEN_LABEL = "rouvrir"
REOPENED_STATUS = TicketStatus.IN_PROGRESS  # a reopened request is being worked on again

ALLOWED_TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    # A new ticket may go anywhere: an agent picks it up, or its call already settled it.
    TicketStatus.OPEN: frozenset(TicketStatus) - {TicketStatus.OPEN},
    TicketStatus.IN_PROGRESS: frozenset({TicketStatus.WAITING_CALLBACK, TicketStatus.ESCALATED, TicketStatus.RESOLVED}),
    TicketStatus.WAITING_CALLBACK: frozenset({TicketStatus.IN_PROGRESS, TicketStatus.ESCALATED, TicketStatus.RESOLVED}),
    TicketStatus.ESCALATED: frozenset({TicketStatus.IN_PROGRESS, TicketStatus.WAITING_CALLBACK, TicketStatus.RESOLVED}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, REOPENED_STATUS}),
    TicketStatus.CLOSED: frozenset({REOPENED_STATUS}),
}

# How each call outcome leaves the ticket that every call becomes.
STATUS_BY_OUTCOME: dict[CallOutcome, TicketStatus] = {
    CallOutcome.SELF_SERVED: TicketStatus.RESOLVED,  # the knowledge base answered, the caller said so
    CallOutcome.TO_AGENT: TicketStatus.IN_PROGRESS,
    CallOutcome.CALLBACK_REQUESTED: TicketStatus.WAITING_CALLBACK,
    CallOutcome.ABANDONED: TicketStatus.CLOSED,  # nothing to follow up; kept for the figures
    CallOutcome.FALLBACK: TicketStatus.OPEN,  # the app was down: an agent must look at it
    CallOutcome.IN_PROGRESS: TicketStatus.OPEN,
}

SUBJECT_BY_OUTCOME: dict[CallOutcome, str] = {
    CallOutcome.SELF_SERVED: "Réponse donnée par le serveur vocal",
    CallOutcome.TO_AGENT: "Appel transféré à un conseiller",
    CallOutcome.CALLBACK_REQUESTED: "Demande de rappel",
    CallOutcome.ABANDONED: "Appel abandonné",
    CallOutcome.FALLBACK: "Appel reçu pendant une panne du serveur vocal",
    CallOutcome.IN_PROGRESS: "Appel en cours",
}
CALLBACK_SUBJECT = "Demande de rappel"
DEFAULT_PRIORITY = 50  # a ticket not tied to a knowledge-base entry (entries carry their own)


class TransitionNotAllowedError(ValueError):
    """A status change the workflow does not allow; the message is the French sentence an agent reads."""

    def __init__(self, current: TicketStatus, target: TicketStatus) -> None:
        super().__init__(f"Un dossier « {STATUS_LABELS[current]} » ne peut pas passer à « {STATUS_LABELS[target]} ».")
        self.current = current
        self.target = target


def can_change(current: TicketStatus, target: TicketStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def check_change(current: TicketStatus, target: TicketStatus) -> None:
    """Raise TransitionNotAllowedError unless `current` may move to `target` (staying put is not a change)."""
    if not can_change(current, target):
        raise TransitionNotAllowedError(current, target)


def can_reopen(current: TicketStatus) -> bool:
    return current in DONE_TICKET_STATUSES


def status_after_call(current: TicketStatus, outcome: CallOutcome, needs_callback: bool) -> TicketStatus | None:
    """Where the call's end moves its ticket; None: it stays where it is.

    A callback promised during the call survives the caller hanging up (or the app failing): the citizen is
    still owed that call. A ticket an agent has already moved on is not pulled back by the call's end.
    """
    if needs_callback and outcome in (CallOutcome.ABANDONED, CallOutcome.FALLBACK, CallOutcome.CALLBACK_REQUESTED):
        return None
    target = STATUS_BY_OUTCOME[outcome]
    if current in DONE_TICKET_STATUSES or target == current or not can_change(current, target):
        return None
    return target


def resolved_at_after(target: TicketStatus, resolved_at: datetime | None, now: datetime) -> datetime | None:
    """The resolution time once in `target`: set on entering a done status, kept when closing a resolved
    ticket, cleared when reopened."""
    if target in DONE_TICKET_STATUSES:
        return resolved_at or now
    return None


def subject_for_call(outcome: CallOutcome, entry_title: str | None) -> str:
    """A call's ticket is about its knowledge-base entry when it has one, else about how the call ended."""
    return entry_title or SUBJECT_BY_OUTCOME[outcome]


def subject_for_callback(reason: str, entry_title: str | None) -> str:
    """The ticket of a caller who asked for a person: the entry they were on, else why they were handed over."""
    if entry_title:
        return entry_title
    return f"{CALLBACK_SUBJECT} ({reason})" if reason else CALLBACK_SUBJECT


JOIN_WINDOW = timedelta(days=7)  # a caller calling again within a week on the same topic follows the same request


def may_join(status: TicketStatus, last_activity: datetime, now: datetime) -> bool:
    """Whether a new call on the same topic from the same number joins this ticket rather than opening one."""
    return status not in DONE_TICKET_STATUSES and now - last_activity <= JOIN_WINDOW
