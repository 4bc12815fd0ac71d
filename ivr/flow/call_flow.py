"""One call through the IVR, as explicit states with a handler per event. Pure: events in, commands out.

The ARI adapter owns the clock and the I/O. It executes the commands that `CallFlow.handle` returns, in order,
and feeds back what happened (keys, finished playbacks, fired timers, answers to lookups and ticket creation).

Rules that hold in every state:
- '0' reaches a person. The one exception is during dossier entry once a digit is typed, where 0 is part of
  the number; a dossier number never starts with 0, so a first 0 still means "a person".
- '*' plays the state's prompt again (and, during dossier entry, starts the number again).
- Other keys are ignored while a non-interruptible prompt plays (an answer, a status, a goodbye).
- A failure (no input, invalid key, speech not understood, wrong dossier number) is reprompted at most
  MAX_REPROMPTS times in a state (MAX_SPEECH_REPROMPTS on a speech call); the next one goes to a person.
- On a speech call the caller may also speak wherever a key is awaited: voice cuts an interruptible prompt
  (barge-in), "conseiller" reaches a person, "oui"/"non" answer what 1/2 answer. Keys keep working throughout.
- A PlaybackFinished or TimerFired that is not the current one is stale and ignored.
- After the caller hangs up, the flow only records the hangup and the outcome; after ENDED it says nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from hotline.domain.dossier import DOSSIER_LENGTH, parse
from hotline.domain.enums import CallOutcome
from ivr.flow.commands import (
    CancelTimer,
    Command,
    CreateTicket,
    Digits,
    Expect,
    FaqAnswer,
    Hangup,
    JoinQueue,
    KeepUnmatched,
    LeaveQueue,
    Listen,
    LookupTicket,
    Media,
    Play,
    Prompt,
    RecordEvent,
    RecordMessage,
    RecordValue,
    Say,
    SetAnswered,
    SetOutcome,
    Sound,
    StartTimer,
    StopPlayback,
)
from ivr.flow.events import (
    AgentConnected,
    CallerHungUp,
    CallResumed,
    CallStarted,
    ConversationResumed,
    DtmfReceived,
    Event,
    MessageRecorded,
    PlaybackFinished,
    QueueAnnouncement,
    QueueCallbackOffered,
    QueueJoined,
    QueueResumed,
    QueueUnavailable,
    SpeechRecognized,
    SpeechStarted,
    TicketCreated,
    TicketLookedUp,
    TimerFired,
    Transferred,
)
from ivr.flow.menu import DOSSIER_TARGET, Menu
from ivr.flow.prompts import queue_position_text, ticket_status_key
from ivr.flow.vulnerability import sounds_vulnerable
from kb.schema import Action

# ---- Thresholds. Each reason in one line.
# After a prompt ends: long enough for an elderly caller to find the key, short enough not to sound like a dead line.
NO_INPUT_TIMEOUT_S = 7.0
# Before the first digit of a dossier number: the caller may have to find the letter or the SMS first.
DOSSIER_FIRST_DIGIT_TIMEOUT_S = 10.0
# Between two digits: a number is read off paper one digit at a time; longer means the caller stopped typing.
DOSSIER_INTER_DIGIT_TIMEOUT_S = 6.0
# Reprompts per state; after that a person does better than a third identical question (French practice: 2).
MAX_REPROMPTS = 2
# On a speech call, the second failure goes to a person: not understood (or silent) twice in their own words.
MAX_SPEECH_REPROMPTS = 1
# Nobody to take the call, the choice offered (callback or message): a wrong key is asked again once; silence
# takes the callback at once, the request this caller made in the first place.
OFFER_MAX_REPROMPTS = 1
# A turn that started must end with a result; if the recogniser never answers, this counts as no input.
SPEECH_RESULT_TIMEOUT_S = 20.0
# A lookup or ticket creation unanswered after this has failed; the caller must not wait in silence.
OPERATION_TIMEOUT_S = 8.0
# Hang up even if the goodbye's PlaybackFinished is lost: the city pays every minute of a numéro vert.
GOODBYE_GUARD_S = 30.0
# Keys kept during dossier entry; further ones are dropped (such a number is wrong anyway), so memory is bounded.
MAX_TYPED_DIGITS = 2 * DOSSIER_LENGTH

# ---- Keys.
KEY_HUMAN = "0"
KEY_REPEAT = "*"
KEY_SUBMIT = "#"
KEY_YES = "1"
KEY_NO = "2"
KEY_BACK_TO_MENU = "1"
KEY_QUEUE_CALLBACK = "1"  # in the queue: leave it to be called back
KEY_QUEUE_MESSAGE = "2"  # in the queue: leave it to record a message instead
MESSAGE_MAX_S = 120  # a caller's recorded message: two minutes at most
NUMBER_KEYS = frozenset("0123456789")
DTMF_KEYS = NUMBER_KEYS | {KEY_REPEAT, KEY_SUBMIT}


class CallState(StrEnum):
    GREETING = "greeting"  # welcome (and crisis pre-announcement); a menu key typed ahead is taken
    MENU = "menu"  # the main menu: a key or, once wired, a few words
    FAQ_ANSWER = "faq_answer"  # reading a knowledge-base answer
    CONFIRM = "confirm"  # "did this answer help you?" 1 yes, 2 no
    CONFIRM_TOPIC = "confirm_topic"  # a low-confidence match: "vous voulez parler de …?" 1 yes, 2 no
    DOSSIER_ENTRY = "dossier_entry"  # typing a dossier number, then #
    DOSSIER_RESULT = "dossier_result"  # looking the dossier up, reading its status, then "anything else?"
    HUMAN = "human"  # the person path: joining the queue, or (nobody to take the call) a ticket with a callback
    OFFER = "offer"  # nobody to take the call now: 1 to be called back, 2 to leave a message
    QUEUED = "queued"  # waiting for an agent, with music on hold and position announcements
    CONNECTED = "connected"  # bridged with an agent: the flow only waits for the hangup
    MESSAGE = "message"  # out of the queue to leave a recorded message: the intro, then the recording
    GOODBYE = "goodbye"  # last words, then hang up
    ENDED = "ended"  # nothing more happens


class HandoffReason(StrEnum):
    """Why the call went to a person: the `reason` of the ticket."""

    CALLER_ASKED = "caller_asked"  # pressed 0
    TRANSFER = "transfer"  # the entry's action is transfer
    REPORT = "report"  # the entry takes a report for the owning service
    CALLBACK = "callback"  # the entry offers a callback by the owning service
    NOT_HELPED = "not_helped"  # answered 2 to "did this answer help you?"
    RETRIES_EXHAUSTED = "retries_exhausted"  # too many no-inputs, invalid keys or misunderstandings
    LOOKUP_FAILED = "lookup_failed"  # the dossier lookup did not answer, or answered nonsense


class Failure(StrEnum):
    """What went wrong in a step; the value is the prompt key played before the step's prompt again."""

    NO_INPUT = "no_input"
    INVALID = "invalid"
    NO_MATCH = "no_match"
    NOT_HANDLED = "not_handled"  # understood, but not a question for the city: say so, and where to turn
    DOSSIER_INVALID = "dossier_invalid"
    DOSSIER_INCOMPLETE = "dossier_incomplete"
    DOSSIER_NOT_FOUND = "dossier_not_found"


class _TimerKind(StrEnum):
    NO_INPUT = "no_input"
    FIRST_DIGIT = "first_digit"
    INTER_DIGIT = "inter_digit"
    OPERATION = "operation"
    GOODBYE_GUARD = "goodbye_guard"
    SPEECH_RESULT = "speech_result"


class _ResultPhase(StrEnum):
    LOOKUP = "lookup"  # waiting for TicketLookedUp
    STATUS = "status"  # reading the status
    CHOICE = "choice"  # "1 for the menu, 0 for a person, or hang up"


@dataclass(frozen=True, slots=True)
class _Playback:
    playback_id: str
    interruptible: bool


@dataclass(frozen=True, slots=True)
class _Timer:
    name: str
    kind: _TimerKind


# Where the caller's voice is listened to (elsewhere it is heard out: answers, statuses, goodbyes).
_LISTENING_STATES = frozenset(
    {CallState.GREETING, CallState.MENU, CallState.CONFIRM, CallState.CONFIRM_TOPIC, CallState.OFFER}
)

_ACTION_HANDOFF: dict[Action, HandoffReason] = {
    Action.TRANSFER: HandoffReason.TRANSFER,
    Action.REPORT: HandoffReason.REPORT,
    Action.CALLBACK: HandoffReason.CALLBACK,
}


class CallFlow:
    """The IVR side of one call. Feed it events with `handle`; carry out the commands it returns, in order."""

    def __init__(
        self,
        menu: Menu,
        actions: Mapping[str, Action],
        crisis_message: str | None = None,
        speech_enabled: bool = False,
        queue_enabled: bool = False,
        crisis_recording: str | None = None,
    ) -> None:
        """`actions`: each knowledge-base entry's action, by entry id (the flow needs no more of the KB).
        `queue_enabled`: the adapter has an agents' queue (JoinQueue); without one, a person means a callback."""
        missing = [c.target for c in menu.choices if c.target != DOSSIER_TARGET and c.target not in actions]
        if missing:
            raise ValueError(f"menu choices with no known action: {', '.join(missing)}")
        self._choices = {choice.digit: choice.target for choice in menu.choices}
        self._actions = dict(actions)
        self._crisis_message = crisis_message.strip() if crisis_message and crisis_message.strip() else None
        self._crisis_recording = crisis_recording or None  # an uploaded pre-announcement, heard instead of the text
        self._speech_enabled = speech_enabled
        self._queue_enabled = queue_enabled
        self._queue_pending = False  # JoinQueue sent, its answer not in yet
        self._handoff_reason: HandoffReason | None = None
        self._transcript: list[str] = []  # what the caller said, for the agent
        self._message_recording = False  # in MESSAGE: the recording has been asked for
        self._max_reprompts = MAX_SPEECH_REPROMPTS if speech_enabled else MAX_REPROMPTS
        self._expect: Expect | None = None  # what the recogniser was last told to listen for
        self._suggestion: str | None = None  # the entry of "vous voulez parler de …?"
        self._suggestion_title = ""

        self._state = CallState.GREETING
        self._started = False
        self._outcome: CallOutcome | None = None
        self._out: list[Command] = []
        self._playback_counter = 0
        self._timer_counter = 0
        self._playback: _Playback | None = None
        self._timer: _Timer | None = None
        self._failures = 0  # in the current state
        self._faq_id: str | None = None  # the entry being dealt with
        self._digits: list[str] = []  # dossier entry
        self._result_phase = _ResultPhase.LOOKUP
        self._lookup_dossier: str | None = None
        self._status_media: tuple[Media, ...] = ()
        self._handed_off = False  # the person path was taken (at most once per call)
        self._stub_done = False
        self._ticket_dossier: str | None = None
        self._goodbye_media: tuple[Media, ...] = ()

        self._dtmf_handlers: dict[CallState, Callable[[str], None]] = {
            CallState.GREETING: self._dtmf_greeting,
            CallState.MENU: self._dtmf_menu,
            CallState.FAQ_ANSWER: self._ignore_key,
            CallState.CONFIRM: self._dtmf_confirm,
            CallState.CONFIRM_TOPIC: self._dtmf_confirm_topic,
            CallState.DOSSIER_ENTRY: self._dtmf_dossier_entry,
            CallState.DOSSIER_RESULT: self._dtmf_dossier_result,
            CallState.HUMAN: self._ignore_key,
            CallState.OFFER: self._dtmf_offer,
            CallState.QUEUED: self._dtmf_queued,
            CallState.CONNECTED: self._ignore_key,
            CallState.MESSAGE: self._ignore_key,  # '#' ends the recording in Asterisk itself
            CallState.GOODBYE: self._ignore_key,
            CallState.ENDED: self._ignore_key,
        }
        self._playback_handlers: dict[CallState, Callable[[], None]] = {
            CallState.GREETING: self._enter_menu,
            CallState.MENU: self._await_input,
            CallState.FAQ_ANSWER: self._answer_played,
            CallState.CONFIRM: self._await_input,
            CallState.CONFIRM_TOPIC: self._await_input,
            CallState.DOSSIER_ENTRY: self._dossier_prompt_played,
            CallState.DOSSIER_RESULT: self._dossier_result_played,
            CallState.HUMAN: self._human_stub_played,
            CallState.OFFER: self._await_input,
            CallState.QUEUED: lambda: None,  # the holding bridge's music resumes by itself
            CallState.CONNECTED: lambda: None,
            CallState.MESSAGE: self._message_intro_played,
            CallState.GOODBYE: self._hang_up,
            CallState.ENDED: lambda: None,
        }

    # ---- Public surface.

    @property
    def state(self) -> CallState:
        return self._state

    @property
    def crisis_mode(self) -> bool:
        """The call was taken while crisis mode was on (its pre-announcement is played)."""
        return self._crisis_message is not None or self._crisis_recording is not None

    @property
    def outcome(self) -> CallOutcome | None:
        """The last outcome set (None: none yet)."""
        return self._outcome

    def handle(self, event: Event) -> list[Command]:
        """The commands that answer `event`, in the order the adapter must carry them out."""
        if self._state is CallState.ENDED:
            return []
        match event:
            case CallStarted():
                self._on_call_started()
            case CallResumed():
                self._on_call_resumed()
            case DtmfReceived(digit=digit):
                self._on_dtmf(digit)
            case PlaybackFinished(playback_id=playback_id):
                self._on_playback_finished(playback_id)
            case TimerFired(name=name):
                self._on_timer(name)
            case CallerHungUp():
                self._on_caller_hung_up()
            case TicketLookedUp():
                self._on_ticket_looked_up(event)
            case TicketCreated(dossier=dossier):
                self._on_ticket_created(dossier)
            case SpeechStarted():
                self._on_speech_started()
            case SpeechRecognized():
                self._on_speech(event)
            case QueueJoined(position=position, wait_minutes=wait):
                self._on_queue_joined(position, wait)
            case QueueUnavailable():
                self._on_queue_unavailable()
            case QueueResumed(reason=reason, faq_id=faq_id):
                self._on_queue_resumed(reason, faq_id)
            case ConversationResumed(faq_id=faq_id):
                self._on_conversation_resumed(faq_id)
            case QueueAnnouncement(position=position, wait_minutes=wait):
                self._on_queue_announcement(position, wait)
            case QueueCallbackOffered():
                self._on_queue_callback_offered()
            case AgentConnected(agent=agent):
                self._on_agent_connected(agent)
            case Transferred(to_queue=to_queue, service_failed=failed):
                self._on_transferred(to_queue, failed)
            case MessageRecorded(name=name, seconds=seconds):
                self._on_message_recorded(name, seconds)
            case _:
                assert_never(event)
        out, self._out = self._out, []
        return out

    # ---- Event handlers.

    def _on_call_started(self) -> None:
        if self._started:
            return
        self._started = True
        self._play_greeting()

    def _on_call_resumed(self) -> None:
        """The safe point after a crash of the app: an apology, then the menu (whatever the caller was doing)."""
        if self._started:
            return
        self._started = True
        self._record("call_resumed")
        self._enter(CallState.MENU)
        self._play((Prompt("call_resumed"), *self._menu_media()))

    def _on_dtmf(self, digit: str) -> None:
        if not self._started or digit not in DTMF_KEYS:
            return
        if digit == KEY_REPEAT:
            self._repeat()
        elif digit == KEY_HUMAN and not (self._state is CallState.DOSSIER_ENTRY and self._digits):
            self._to_human(HandoffReason.CALLER_ASKED)
        elif self._playback is not None and not self._playback.interruptible and self._state is not CallState.QUEUED:
            return  # the caller must hear this one out; 0 and * still act (and in the queue, its key)
        else:
            self._dtmf_handlers[self._state](digit)

    def _on_playback_finished(self, playback_id: str) -> None:
        if self._playback is None or self._playback.playback_id != playback_id:
            return  # stale: stopped, or replaced by a newer playback
        self._playback = None
        self._playback_handlers[self._state]()

    def _on_timer(self, name: str) -> None:
        if self._timer is None or self._timer.name != name:
            return  # stale: cancelled while its firing was already on the way
        kind = self._timer.kind
        self._timer = None
        match kind:
            case _TimerKind.NO_INPUT | _TimerKind.FIRST_DIGIT | _TimerKind.SPEECH_RESULT:
                self._fail(Failure.NO_INPUT)
            case _TimerKind.INTER_DIGIT:
                self._dossier_typing_stopped()
            case _TimerKind.OPERATION:
                self._operation_timed_out()
            case _TimerKind.GOODBYE_GUARD:
                self._hang_up()
            case _:
                assert_never(kind)

    def _on_caller_hung_up(self) -> None:
        self._record("caller_hung_up", state=self._state.value)
        if self._state is CallState.OFFER:
            # They asked for a person and hung up before choosing: the city calls them back all the same.
            self._out.append(
                CreateTicket((self._handoff_reason or HandoffReason.CALLER_ASKED).value, self._faq_id, True)
            )
            self._set_outcome(CallOutcome.CALLBACK_REQUESTED)
        if self._outcome is None:
            self._set_outcome(CallOutcome.ABANDONED)
        # The channel is gone: no StopPlayback or CancelTimer, the adapter drops what the call had.
        self._playback = None
        self._timer = None
        self._state = CallState.ENDED

    def _on_ticket_looked_up(self, event: TicketLookedUp) -> None:
        if (
            self._state is not CallState.DOSSIER_RESULT
            or self._result_phase is not _ResultPhase.LOOKUP
            or event.dossier != self._lookup_dossier
        ):
            return  # an answer to a lookup the caller has already left
        self._cancel_timer()
        self._lookup_dossier = None
        status = event.status.value if event.status is not None else None
        self._record("dossier_lookup", dossier=event.dossier, found=int(event.found), status=status)
        if not event.found:
            self._state = CallState.DOSSIER_ENTRY  # the failure count carries on: not found is a retry
            self._fail(Failure.DOSSIER_NOT_FOUND)
        elif event.status is None:
            self._to_human(HandoffReason.LOOKUP_FAILED)
        else:
            self._result_phase = _ResultPhase.STATUS
            self._status_media = (
                Prompt("dossier_status_intro"),
                Digits(event.dossier),
                Prompt(ticket_status_key(event.status)),
            )
            self._play(self._status_media, interruptible=False)

    def _on_queue_joined(self, position: int, wait_minutes: int | None) -> None:
        if self._state is not CallState.HUMAN or not self._queue_pending:
            return
        self._queue_pending = False
        self._enter(CallState.QUEUED)
        self._record("queue_joined", position=position, wait_minutes=wait_minutes)
        reason = self._handoff_reason.value if self._handoff_reason else HandoffReason.CALLER_ASKED.value
        self._out.append(CreateTicket(reason, self._faq_id, needs_callback=False))
        self._play(
            (Prompt("queue_joined"), Say(queue_position_text(position, wait_minutes)), Prompt("queue_callback_key")),
            interruptible=False,
        )

    def _on_queue_resumed(self, reason: str, faq_id: str | None) -> None:
        if self._started:
            return
        self._started = self._handed_off = True
        self._faq_id = faq_id
        known = {r.value for r in HandoffReason}
        self._handoff_reason = HandoffReason(reason) if reason in known else HandoffReason.CALLER_ASKED
        self._state = CallState.QUEUED
        self._record("queue_resumed")

    def _on_conversation_resumed(self, faq_id: str | None) -> None:
        if self._started:
            return
        self._started = self._handed_off = True
        self._faq_id = faq_id
        self._state = CallState.CONNECTED
        self._record("conversation_resumed")
        self._set_outcome(CallOutcome.TO_AGENT)

    def _on_queue_unavailable(self) -> None:
        if self._state is not CallState.HUMAN or not self._queue_pending:
            return
        self._queue_pending = False
        self._cancel_timer()
        self._record("queue_unavailable")
        self._enter(CallState.OFFER)
        self._play(self._offer_media())

    def _dtmf_offer(self, digit: str) -> None:
        if digit == KEY_QUEUE_CALLBACK:
            self._take_callback("offer_callback_chosen")
        elif digit == KEY_QUEUE_MESSAGE:
            self._record("offer_message_chosen")
            self._start_message()
        else:
            self._fail(Failure.INVALID)

    def _speech_in_offer(self, event: SpeechRecognized) -> None:
        words = event.text.lower()
        if "message" in words:
            self._record("offer_message_chosen")
            self._start_message()
        elif "rappel" in words or event.yes_no is True or event.wants_human:
            self._take_callback("offer_callback_chosen")
        else:
            self._fail(Failure.NO_MATCH)

    def _take_callback(self, kind: str) -> None:
        """The caller chose to be called back: the ticket flagged for a callback, its number, goodbye."""
        self._record(kind)
        self._enter(CallState.HUMAN)
        self._human_stub(self._handoff_reason or HandoffReason.CALLER_ASKED, "queue_callback_taken")

    def _on_queue_announcement(self, position: int, wait_minutes: int | None) -> None:
        if self._state is not CallState.QUEUED:
            return
        self._record("queue_position", position=position, wait_minutes=wait_minutes)
        self._play((Say(queue_position_text(position, wait_minutes)),), interruptible=False)

    def _on_queue_callback_offered(self) -> None:
        if self._state is not CallState.QUEUED:
            return
        self._record("queue_callback_offered")
        self._play(
            (Prompt("queue_long_wait"), Prompt("queue_callback_key"), Prompt("queue_message_key")), interruptible=False
        )

    def _dtmf_queued(self, digit: str) -> None:
        if digit == KEY_QUEUE_MESSAGE:
            self._leave_a_message()
            return
        if digit != KEY_QUEUE_CALLBACK:
            return  # other keys do nothing in the queue: the caller keeps their place
        self._out.append(LeaveQueue())
        self._ticket_dossier = None  # the queued call's ticket: now flagged for a callback, its number said
        self._take_callback("queue_callback_requested")

    def _on_agent_connected(self, agent: str) -> None:
        if self._state not in (CallState.QUEUED, CallState.HUMAN):
            return
        self._queue_pending = False
        self._enter(CallState.CONNECTED)
        self._record("agent_connected", agent=agent)
        self._set_outcome(CallOutcome.TO_AGENT)

    def _leave_a_message(self) -> None:
        """Out of the queue to record a message for the advisers (instead of a callback)."""
        self._record("queue_message_requested")
        self._out.append(LeaveQueue())
        self._ticket_dossier = None  # the queued call's ticket: its number is said after the message
        self._start_message()

    def _start_message(self) -> None:
        self._enter(CallState.MESSAGE)
        self._message_recording = False
        self._play((Prompt("message_intro"),), interruptible=False)

    def _message_intro_played(self) -> None:
        if self._message_recording:
            return
        self._message_recording = True
        self._out.append(RecordMessage(MESSAGE_MAX_S))
        self._start_timer(_TimerKind.OPERATION, MESSAGE_MAX_S + OPERATION_TIMEOUT_S)

    def _on_message_recorded(self, name: str | None, seconds: float) -> None:
        if self._state is not CallState.MESSAGE or not self._message_recording:
            return
        self._message_recording = False
        self._record("message_recorded", name=name, seconds=round(seconds, 1))
        reason = self._handoff_reason or HandoffReason.CALLER_ASKED
        self._enter(CallState.HUMAN)
        if name is None:  # nothing was recorded: the callback, as with key 1
            self._human_stub(reason, "queue_callback_taken")
            return
        self._stub_done = False
        self._play((Prompt("message_kept"),), interruptible=False)
        self._out.append(
            CreateTicket(reason.value, self._faq_id, needs_callback=False, message=name, message_s=seconds)
        )
        self._start_timer(_TimerKind.OPERATION, OPERATION_TIMEOUT_S)

    def _on_transferred(self, to_queue: bool, service_failed: bool) -> None:
        if self._state is not CallState.CONNECTED:
            return
        self._record("transferred", to_queue=to_queue, service_failed=service_failed)
        if not to_queue:
            self._play((Prompt("transfer_to_service"),), interruptible=False)  # then music until they answer
            return
        self._enter(CallState.QUEUED)
        self._play((Prompt("transfer_failed" if service_failed else "transfer_to_agent"),), interruptible=False)

    def _on_ticket_created(self, dossier: str) -> None:
        if self._state in (CallState.QUEUED, CallState.CONNECTED) and self._ticket_dossier is None:
            self._ticket_dossier = dossier  # the queued call's ticket: the agent reads it, the caller is not told
            self._record("ticket_created", dossier=dossier)
            return
        if self._state is not CallState.HUMAN or self._ticket_dossier is not None:
            return
        self._cancel_timer()
        self._ticket_dossier = dossier
        self._record("ticket_created", dossier=dossier)
        self._set_outcome(CallOutcome.CALLBACK_REQUESTED)
        if self._stub_done:
            self._say_ticket_and_goodbye()

    def _on_speech_started(self) -> None:
        if not self._speech_enabled or self._state not in _LISTENING_STATES:
            return
        if self._playback is not None:
            if not self._playback.interruptible:
                return  # the caller hears this one out; what they say after it still counts
            self._record("barge_in", state=self._state.value)
            self._stop_playback()
        if self._state is CallState.GREETING:
            self._enter(CallState.MENU)  # speaking over the welcome: the caller is already saying why they call
        self._start_timer(_TimerKind.SPEECH_RESULT, SPEECH_RESULT_TIMEOUT_S)  # replaces the no-input timer

    def _on_speech(self, event: SpeechRecognized) -> None:
        if not self._speech_enabled or self._state not in _LISTENING_STATES:
            return
        if self._state is CallState.GREETING:
            if self._playback is not None and not self._playback.interruptible:
                return
            self._enter(CallState.MENU)
        self._record(
            "speech",
            state=self._state.value,
            text=event.text,
            faq_id=event.faq_id,
            score=round(event.score, 4),
            suggestion=event.suggestion,
            alternatives=",".join(event.alternatives),
        )
        self._stop_playback()
        self._cancel_timer()
        if event.text.strip():
            self._transcript.append(event.text.strip())
        if not event.text.strip():
            self._fail(Failure.NO_INPUT)  # noise, or words the recogniser could not make out
        elif self._state is CallState.OFFER:
            self._speech_in_offer(event)
        elif event.wants_human:
            self._to_human(HandoffReason.CALLER_ASKED)
        elif self._state is CallState.MENU:
            self._speech_in_menu(event)
        elif event.yes_no is None:
            self._fail(Failure.NO_MATCH)
        elif self._state is CallState.CONFIRM:
            self._answer_helped(event.yes_no)
        else:
            self._topic_confirmed(event.yes_no)

    def _speech_in_menu(self, event: SpeechRecognized) -> None:
        if event.faq_id is not None and event.faq_id in self._actions:
            self._go_faq(event.faq_id)
            return
        if event.out_of_scope or event.referral_says:
            self._record("not_handled", referral=event.referral)
            self._fail(Failure.NOT_HANDLED, (Say(event.referral_says),) if event.referral_says else ())
        elif event.suggestion is not None and event.suggestion in self._actions:
            self._ask_topic(event.suggestion, event.suggestion_title)
        else:
            self._fail(Failure.NO_MATCH)
        best = event.suggestion or next(iter(event.alternatives), None)
        self._out.append(KeepUnmatched(event.text, best, event.score))  # after the play: the caller waits for it

    # ---- Keys, per state (only reached when no non-interruptible prompt is playing).

    def _ignore_key(self, digit: str) -> None:
        return

    def _dtmf_greeting(self, digit: str) -> None:
        target = self._choices.get(digit)
        if target is None:
            self._enter_menu()  # a key during the welcome: the caller wants to get on with it
            return
        self._stop_playback()
        self._record("menu_choice", digit=digit, target=target)
        self._go_target(target)

    def _dtmf_menu(self, digit: str) -> None:
        target = self._choices.get(digit)
        if target is None:
            self._fail(Failure.INVALID)
            return
        self._stop_playback()
        self._cancel_timer()
        self._record("menu_choice", digit=digit, target=target)
        self._go_target(target)

    def _dtmf_confirm(self, digit: str) -> None:
        self._yes_no_key(digit, self._answer_helped)

    def _dtmf_confirm_topic(self, digit: str) -> None:
        self._yes_no_key(digit, self._topic_confirmed)

    def _yes_no_key(self, digit: str, answer: Callable[[bool], None]) -> None:
        """1 for yes, 2 for no; any other key is invalid."""
        if digit not in (KEY_YES, KEY_NO):
            self._fail(Failure.INVALID)
            return
        self._stop_playback()
        self._cancel_timer()
        answer(digit == KEY_YES)

    def _answer_helped(self, helped: bool) -> None:
        self._record("confirm", faq_id=self._faq_id, helped=int(helped))
        if helped:
            self._goodbye((Prompt("goodbye"),), CallOutcome.SELF_SERVED)
        else:
            self._to_human(HandoffReason.NOT_HELPED)

    def _dtmf_dossier_entry(self, digit: str) -> None:
        if digit == KEY_SUBMIT:
            self._submit_dossier()
            return
        self._stop_playback()  # barge-in: typing during the prompt
        if len(self._digits) < MAX_TYPED_DIGITS:
            self._digits.append(digit)
        self._start_timer(_TimerKind.INTER_DIGIT, DOSSIER_INTER_DIGIT_TIMEOUT_S)

    def _dtmf_dossier_result(self, digit: str) -> None:
        if self._result_phase is not _ResultPhase.CHOICE:
            return  # still looking up: nothing is asked yet
        if digit == KEY_BACK_TO_MENU:
            self._enter_menu()
        else:
            self._fail(Failure.INVALID)

    # ---- '*': the state's prompt again.

    def _repeat(self) -> None:
        if self._state is CallState.DOSSIER_RESULT and self._result_phase is _ResultPhase.LOOKUP:
            return  # nothing is playing or asked while the lookup runs
        if self._state in (CallState.QUEUED, CallState.CONNECTED, CallState.MESSAGE) or self._queue_pending:
            return  # waiting for (or talking with) a person: nothing to repeat
        self._record("repeat", state=self._state.value)
        if self._state is CallState.GOODBYE:
            self._play(self._goodbye_media, interruptible=False)
            self._start_timer(_TimerKind.GOODBYE_GUARD, GOODBYE_GUARD_S)
            return
        if self._state is not CallState.HUMAN:
            self._cancel_timer()  # in HUMAN the running timer guards the ticket creation: keep it
        match self._state:
            case CallState.GREETING:
                self._play_greeting()
            case CallState.MENU:
                self._play(self._menu_media())
            case CallState.FAQ_ANSWER:
                self._play(self._answer_media(), interruptible=False)
            case CallState.CONFIRM:
                self._play(self._confirm_media())
            case CallState.OFFER:
                self._play(self._offer_media())
            case CallState.CONFIRM_TOPIC:
                self._play(self._topic_media())
            case CallState.DOSSIER_ENTRY:
                self._digits.clear()  # '*' also means "let me start the number again"
                self._play((Prompt("dossier_enter"),))
            case CallState.DOSSIER_RESULT:
                self._result_phase = _ResultPhase.STATUS
                self._play(self._status_media, interruptible=False)
            case CallState.HUMAN:
                self._stub_done = False
                self._play((Prompt("human_stub"),), interruptible=False)
            case CallState.QUEUED | CallState.CONNECTED | CallState.MESSAGE | CallState.ENDED:
                pass

    # ---- Playbacks that ended, per state.

    def _await_input(self) -> None:
        self._start_timer(_TimerKind.NO_INPUT, NO_INPUT_TIMEOUT_S)

    def _answer_played(self) -> None:
        action = self._actions[self._faq_id] if self._faq_id is not None else Action.ANSWER
        handoff = _ACTION_HANDOFF.get(action)
        if handoff is not None:
            self._to_human(handoff)
        else:
            self._enter(CallState.CONFIRM)
            self._play(self._confirm_media())

    def _dossier_prompt_played(self) -> None:
        if not self._digits:
            self._start_timer(_TimerKind.FIRST_DIGIT, DOSSIER_FIRST_DIGIT_TIMEOUT_S)

    def _dossier_result_played(self) -> None:
        if self._result_phase is _ResultPhase.STATUS:
            if self._outcome is None:
                self._set_outcome(CallOutcome.SELF_SERVED)  # the caller has heard where the request stands
            self._result_phase = _ResultPhase.CHOICE
            self._failures = 0
            self._play((Prompt("anything_else"),))
        else:
            self._await_input()

    def _human_stub_played(self) -> None:
        self._stub_done = True
        if self._ticket_dossier is not None:
            self._say_ticket_and_goodbye()

    # ---- Transitions.

    def _enter(self, state: CallState) -> None:
        """Leave the current state (its playback and timer with it) for a fresh `state`."""
        self._stop_playback()
        self._cancel_timer()
        self._state = state
        self._failures = 0
        self._listen_for(state)

    def _listen_for(self, state: CallState) -> None:
        expect = Expect.YES_NO if state in (CallState.CONFIRM, CallState.CONFIRM_TOPIC) else Expect.FREE
        if self._speech_enabled and expect is not self._expect:
            self._expect = expect
            self._out.append(Listen(expect))

    def _ask_topic(self, faq_id: str, title: str) -> None:
        """A low-confidence match: ask once. The state keeps the menu's failure count (it is the same question)."""
        self._stop_playback()
        self._cancel_timer()
        self._state = CallState.CONFIRM_TOPIC
        self._listen_for(CallState.CONFIRM_TOPIC)
        self._suggestion, self._suggestion_title = faq_id, title
        self._record("topic_suggested", faq_id=faq_id)
        self._play(self._topic_media())

    def _topic_confirmed(self, yes: bool) -> None:
        faq_id, self._suggestion = self._suggestion, None
        self._record("topic_confirmed", faq_id=faq_id, yes=int(yes))
        if yes and faq_id is not None:
            self._go_faq(faq_id)
            return
        self._state = CallState.MENU  # "no": the caller says it again, as one more failure of the menu
        self._listen_for(CallState.MENU)
        self._fail(Failure.NO_MATCH)

    def _play_greeting(self) -> None:
        self._listen_for(CallState.GREETING)
        media: tuple[Media, ...] = (Prompt("greeting"),)
        if self._crisis_recording is not None:
            media += (Sound(self._crisis_recording),)
        elif self._crisis_message is not None:
            media += (Say(self._crisis_message),)
        # The crisis pre-announcement is heard in full; only 0 and * cut it.
        self._play(media, interruptible=not self.crisis_mode)

    def _enter_menu(self) -> None:
        self._enter(CallState.MENU)
        self._faq_id = None
        self._play(self._menu_media())

    def _go_target(self, target: str) -> None:
        if target == DOSSIER_TARGET:
            self._enter_dossier_entry()
        else:
            self._go_faq(target)

    def _go_faq(self, faq_id: str) -> None:
        self._faq_id = faq_id
        action = self._actions[faq_id]
        match action:
            case Action.ANSWER | Action.REPORT | Action.CALLBACK:
                self._enter(CallState.FAQ_ANSWER)
                self._record("faq_answered", faq_id=faq_id, action=action.value)
                self._out.append(SetAnswered(faq_id))
                self._play(self._answer_media(), interruptible=False)
            case Action.TRANSFER:
                self._to_human(HandoffReason.TRANSFER)
            case Action.TICKET_STATUS:
                self._enter_dossier_entry()
            case _:
                assert_never(action)

    def _enter_dossier_entry(self) -> None:
        self._enter(CallState.DOSSIER_ENTRY)
        self._digits.clear()
        self._play((Prompt("dossier_enter"),))

    def _submit_dossier(self) -> None:
        self._stop_playback()
        self._cancel_timer()
        typed = "".join(self._digits)
        self._digits.clear()
        if not typed:
            self._fail(Failure.INVALID)
            return
        dossier = parse(typed)
        if dossier is None:
            self._record("dossier_rejected", digits_typed=len(typed))
            self._fail(Failure.DOSSIER_INVALID)
            return
        self._state = CallState.DOSSIER_RESULT  # failures carry on: a number not found is one more retry
        self._result_phase = _ResultPhase.LOOKUP
        self._lookup_dossier = dossier
        self._out.append(LookupTicket(dossier))
        self._start_timer(_TimerKind.OPERATION, OPERATION_TIMEOUT_S)

    def _dossier_typing_stopped(self) -> None:
        if len(self._digits) >= DOSSIER_LENGTH:
            self._submit_dossier()  # a whole number and no '#': the caller forgot it, take the number anyway
        else:
            self._fail(Failure.DOSSIER_INCOMPLETE)

    def _operation_timed_out(self) -> None:
        if self._state is CallState.DOSSIER_RESULT:
            self._record("dossier_lookup_failed", dossier=self._lookup_dossier)
            self._lookup_dossier = None
            self._to_human(HandoffReason.LOOKUP_FAILED)
        elif self._state is CallState.HUMAN and self._queue_pending:
            self._on_queue_unavailable()  # the queue did not answer in time: the caller is called back
        elif self._state is CallState.MESSAGE:
            self._on_message_recorded(None, 0.0)  # the recording never reported back: a callback instead
        elif self._state is CallState.HUMAN:
            self._record("ticket_failed")
            self._goodbye((Prompt("technical_problem"), Prompt("goodbye")), CallOutcome.FALLBACK)

    def _fail(self, failure: Failure, said: tuple[Media, ...] = ()) -> None:
        """A no-input, invalid key, misunderstanding or wrong number: reprompt, or give up on the state.
        `said` is heard between the failure's prompt and the state's (where to turn, for NOT_HANDLED)."""
        self._stop_playback()
        self._cancel_timer()
        self._digits.clear()
        self._failures += 1
        if self._state is CallState.OFFER and (failure is Failure.NO_INPUT or self._failures > OFFER_MAX_REPROMPTS):
            self._take_callback("offer_no_choice")  # silence, or no choice made out: the safe one, a callback
            return
        if self._failures > self._max_reprompts:
            if self._state is CallState.DOSSIER_RESULT:
                # The status was read and "or hang up" said: silence means done, not a callback to book.
                self._goodbye((Prompt("goodbye"),), None)
            else:
                self._to_human(HandoffReason.RETRIES_EXHAUSTED)
            return
        self._record("reprompt", state=self._state.value, reason=failure.value, count=self._failures)
        if failure is Failure.NOT_HANDLED:
            # Not the whole menu again: the caller asked something; they may ask another thing, or a person.
            self._play((Prompt(failure.value), *said, Prompt("not_handled_next")))
            return
        self._play((Prompt(failure.value), *said, *self._reprompt_media()))

    def _reprompt_media(self) -> tuple[Media, ...]:
        match self._state:
            case CallState.MENU:
                return self._menu_media()
            case CallState.CONFIRM:
                return self._confirm_media()
            case CallState.CONFIRM_TOPIC:
                return self._topic_media()
            case CallState.DOSSIER_ENTRY:
                return (Prompt("dossier_enter"),)
            case CallState.DOSSIER_RESULT:
                return (Prompt("anything_else"),)
            case CallState.OFFER:
                return self._offer_media()[1:]  # the choice again, not the news
            case _:
                raise AssertionError(f"no reprompt in state {self._state}")

    def _to_human(self, reason: HandoffReason) -> None:
        if self._handed_off:
            return  # already on the person path: one ticket per call
        self._handed_off = True
        self._handoff_reason = reason
        from_state = self._state
        self._enter(CallState.HUMAN)
        self._record("to_human", reason=reason.value, from_state=from_state.value, faq_id=self._faq_id)
        if self._queue_enabled:
            self._queue_pending = True
            vulnerable = sounds_vulnerable(self._transcript)
            self._out.append(JoinQueue(reason.value, self._faq_id, " | ".join(self._transcript), vulnerable))
            self._start_timer(_TimerKind.OPERATION, OPERATION_TIMEOUT_S)
            return
        self._human_stub(reason)

    def _human_stub(self, reason: HandoffReason, prompt: str = "human_stub") -> None:
        """Nobody can take the call now: a ticket flagged for a callback, its dossier number, goodbye."""
        self._stub_done = False
        self._play((Prompt(prompt),), interruptible=False)
        self._out.append(CreateTicket(reason.value, self._faq_id, needs_callback=True))
        self._start_timer(_TimerKind.OPERATION, OPERATION_TIMEOUT_S)

    def _say_ticket_and_goodbye(self) -> None:
        assert self._ticket_dossier is not None
        self._goodbye((Prompt("your_dossier_is"), Digits(self._ticket_dossier), Prompt("goodbye")), None)

    def _goodbye(self, media: tuple[Media, ...], outcome: CallOutcome | None) -> None:
        self._enter(CallState.GOODBYE)
        self._goodbye_media = media
        self._play(media, interruptible=False)
        if outcome is not None:
            self._set_outcome(outcome)
        self._start_timer(_TimerKind.GOODBYE_GUARD, GOODBYE_GUARD_S)

    def _hang_up(self) -> None:
        self._cancel_timer()
        self._playback = None
        self._out.append(Hangup())
        self._state = CallState.ENDED

    # ---- Media.

    def _menu_media(self) -> tuple[Media, ...]:
        if self._speech_enabled:
            return (Prompt("speech_hint"), Prompt("menu"))
        return (Prompt("menu"),)

    def _offer_media(self) -> tuple[Media, ...]:
        return (Prompt("no_agent_now"), Prompt("queue_callback_key"), Prompt("queue_message_key"))

    def _confirm_media(self) -> tuple[Media, ...]:
        return (Prompt("confirm_speech" if self._speech_enabled else "confirm"),)

    def _topic_media(self) -> tuple[Media, ...]:
        return (Say(f"Vous voulez parler de : {self._suggestion_title} ?"), Prompt("yes_or_no"))

    def _answer_media(self) -> tuple[Media, ...]:
        assert self._faq_id is not None
        return (FaqAnswer(self._faq_id),)

    # ---- Command helpers.

    def _play(self, media: tuple[Media, ...], interruptible: bool = True) -> None:
        self._stop_playback()
        self._playback_counter += 1
        playback_id = f"{self._state.value}-{self._playback_counter}"
        self._playback = _Playback(playback_id, interruptible)
        self._out.append(Play(playback_id, media, interruptible))

    def _stop_playback(self) -> None:
        if self._playback is not None:
            self._out.append(StopPlayback(self._playback.playback_id))
            self._playback = None

    def _start_timer(self, kind: _TimerKind, seconds: float) -> None:
        self._cancel_timer()
        self._timer_counter += 1
        self._timer = _Timer(f"{kind.value}-{self._timer_counter}", kind)
        self._out.append(StartTimer(self._timer.name, seconds))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._out.append(CancelTimer(self._timer.name))
            self._timer = None

    def _record(self, kind: str, **data: RecordValue) -> None:
        self._out.append(RecordEvent(kind, dict(data)))

    def _set_outcome(self, outcome: CallOutcome) -> None:
        self._outcome = outcome
        self._out.append(SetOutcome(outcome))
