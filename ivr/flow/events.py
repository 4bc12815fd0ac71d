"""What happens to a call, as the flow sees it: ARI events, timer firings and answers to requested operations.

The ARI adapter translates what Asterisk and the services tell it into these, and feeds them to `CallFlow.handle`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.domain.enums import TicketStatus


@dataclass(frozen=True, slots=True)
class CallStarted:
    """The call is in Stasis and answered."""

    caller: str
    called: str


@dataclass(frozen=True, slots=True)
class CallResumed:
    """A call a previous run of the app left in Stasis (it crashed or was killed), adopted by this one: the
    caller is answered and may have heard a prompt cut short, and what the old flow knew is lost."""


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """The caller pressed a key: '0'-'9', '*' or '#'."""

    digit: str


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    """A playback ended: played to the end, or stopped by a StopPlayback."""

    playback_id: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer started with StartTimer ran out (and was not cancelled)."""

    name: str


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    """The caller's channel is gone."""


@dataclass(frozen=True, slots=True)
class TicketLookedUp:
    """The answer to LookupTicket."""

    dossier: str
    found: bool
    status: TicketStatus | None
    subject: str | None


@dataclass(frozen=True, slots=True)
class TicketCreated:
    """The answer to CreateTicket: the new ticket's dossier number."""

    dossier: str


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The caller started speaking (voice for the endpointer's minimum speech time): barge-in."""


@dataclass(frozen=True, slots=True)
class SpeechRecognized:
    """A finished turn: what the caller said, and what it means.

    `faq_id` is the knowledge-base entry matched confidently (None: nothing was). `suggestion` is an entry close
    to the threshold, worth a "vous voulez parler de …?" (None when `faq_id` is set or nothing is close).
    `yes_no` is the answer heard to a yes/no question (None: neither), `wants_human` a request for a person.
    `out_of_scope` means the matcher judged it no question for the city (not merely unsure which entry);
    `referral_says` is where to turn when it names another body (the sentence to say, empty: none).
    An empty `text` means the caller made noise but said nothing the recogniser understood.
    """

    text: str
    faq_id: str | None
    score: float
    alternatives: tuple[str, ...]
    suggestion: str | None = None
    suggestion_title: str = ""
    yes_no: bool | None = None
    wants_human: bool = False
    out_of_scope: bool = False
    referral: str | None = None  # the other body's id (kb/referrals.yaml)
    referral_says: str = ""


@dataclass(frozen=True, slots=True)
class QueueJoined:
    """The answer to JoinQueue: the caller waits for an agent, at `position` (1: next)."""

    position: int
    wait_minutes: int | None  # None: nothing measured yet, so no figure is given


@dataclass(frozen=True, slots=True)
class QueueUnavailable:
    """The answer to JoinQueue when nobody can take the call (no agent logged in): the callback path."""


@dataclass(frozen=True, slots=True)
class QueueAnnouncement:
    """Time to tell the waiting caller their position again (periodically, or it improved)."""

    position: int
    wait_minutes: int | None


@dataclass(frozen=True, slots=True)
class QueueResumed:
    """A caller a previous run of the app left waiting in the queue, adopted by this one: they keep waiting
    (the holding bridge's music never stopped), with nothing said."""

    reason: str  # HandoffReason value of the original handoff
    faq_id: str | None


@dataclass(frozen=True, slots=True)
class ConversationResumed:
    """A caller a previous run of the app left talking with an agent: the conversation goes on."""

    faq_id: str | None


@dataclass(frozen=True, slots=True)
class QueueCallbackOffered:
    """The wait is long (or nobody is free to answer soon): offer the caller a callback again."""


@dataclass(frozen=True, slots=True)
class AgentConnected:
    """An agent answered: the caller is bridged with them."""

    agent: str


@dataclass(frozen=True, slots=True)
class Transferred:
    """The agent passed the caller on: back into the queue at the front (`to_queue`), or to a city service's
    line that is being dialled. `service_failed`: the service did not answer, so the caller waits again."""

    to_queue: bool
    service_failed: bool = False


@dataclass(frozen=True, slots=True)
class MessageRecorded:
    """The caller's message was recorded (`name`, `seconds`), or could not be (`name` None)."""

    name: str | None
    seconds: float = 0.0


Event = (
    CallStarted
    | CallResumed
    | DtmfReceived
    | PlaybackFinished
    | TimerFired
    | CallerHungUp
    | TicketLookedUp
    | TicketCreated
    | SpeechStarted
    | SpeechRecognized
    | QueueJoined
    | QueueUnavailable
    | QueueResumed
    | ConversationResumed
    | QueueAnnouncement
    | QueueCallbackOffered
    | AgentConnected
    | Transferred
    | MessageRecorded
)
