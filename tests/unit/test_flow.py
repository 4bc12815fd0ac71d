"""The call flow, driven by events alone: exact command sequences for the main paths, and every transition."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from hotline.domain.enums import CallOutcome, TicketStatus
from ivr.flow.call_flow import (
    DOSSIER_FIRST_DIGIT_TIMEOUT_S,
    DOSSIER_INTER_DIGIT_TIMEOUT_S,
    GOODBYE_GUARD_S,
    MAX_REPROMPTS,
    NO_INPUT_TIMEOUT_S,
    OPERATION_TIMEOUT_S,
    SPEECH_RESULT_TIMEOUT_S,
    CallFlow,
    CallState,
)
from ivr.flow.commands import (
    CancelTimer,
    Command,
    CreateTicket,
    Digits,
    Expect,
    FaqAnswer,
    Hangup,
    KeepUnmatched,
    Listen,
    LookupTicket,
    Play,
    Prompt,
    RecordEvent,
    Say,
    SetAnswered,
    SetOutcome,
    Sound,
    StartTimer,
    StopPlayback,
)
from ivr.flow.events import (
    CallerHungUp,
    CallResumed,
    CallStarted,
    DtmfReceived,
    Event,
    PlaybackFinished,
    SpeechRecognized,
    SpeechStarted,
    TicketCreated,
    TicketLookedUp,
    TimerFired,
)
from ivr.flow.menu import DEFAULT_MENU_FILE, load_menu
from kb.schema import Action

ACTIONS: dict[str, Action] = {
    "mairie.horaires": Action.ANSWER,
    "etat-civil.carte-identite": Action.ANSWER,
    "dechets.collecte": Action.REPORT,
    "eau.coupure": Action.TRANSFER,
    "suivi.demande": Action.TICKET_STATUS,
    "social.ccas-aides": Action.CALLBACK,
    "accueil.conseiller": Action.TRANSFER,
}
MENU = load_menu(DEFAULT_MENU_FILE, set(ACTIONS))
CALLER, CALLED = "0612345678", "0800123456"
DOSSIER = "12345671"  # body 1234567, Damm check digit 1
DOSSIER_WITH_ZEROS = "30507092"
WRONG_CHECK_DIGIT = "12345672"
NEW_TICKET = "20240013"
CRISIS = "Alerte inondation : la rue des Tanneurs est fermée à la circulation."


class Call:
    """Runs a script of events through one CallFlow, tracking what the adapter would: the current playback
    and the running timer."""

    def __init__(
        self, crisis_message: str | None = None, speech_enabled: bool = False, queue_enabled: bool = False
    ) -> None:
        self.flow = CallFlow(
            MENU, ACTIONS, crisis_message=crisis_message, speech_enabled=speech_enabled, queue_enabled=queue_enabled
        )
        self.playing: str | None = None
        self.timer: str | None = None
        self.history: list[Command] = []

    def send(self, *events: Event) -> list[Command]:
        out: list[Command] = []
        for event in events:
            commands = self.flow.handle(event)
            for command in commands:
                match command:
                    case Play(playback_id=playback_id):
                        self.playing = playback_id
                    case StopPlayback(playback_id=playback_id) if playback_id == self.playing:
                        self.playing = None
                    case StartTimer(name=name):
                        self.timer = name
                    case CancelTimer(name=name) if name == self.timer:
                        self.timer = None
                    case Hangup():
                        self.playing = self.timer = None
            out.extend(commands)
        self.history.extend(out)
        return out

    def start(self) -> list[Command]:
        return self.send(CallStarted(CALLER, CALLED))

    def keys(self, keys: str) -> list[Command]:
        return self.send(*(DtmfReceived(key) for key in keys))

    def finish(self) -> list[Command]:
        """The current playback plays to its end."""
        assert self.playing is not None, "nothing is playing"
        playing, self.playing = self.playing, None
        return self.send(PlaybackFinished(playing))

    def fire(self) -> list[Command]:
        """The running timer runs out."""
        assert self.timer is not None, "no timer is running"
        timer, self.timer = self.timer, None
        return self.send(TimerFired(timer))

    def state(self) -> CallState:
        """A method, not a property: mypy must not narrow it across events."""
        return self.flow.state

    def last_play(self) -> Play:
        return next(c for c in reversed(self.history) if isinstance(c, Play))


T = TypeVar("T")


def of_type(commands: list[Command], kind: type[T]) -> list[T]:
    return [c for c in commands if isinstance(c, kind)]


def records(commands: list[Command]) -> list[str]:
    return [c.kind for c in of_type(commands, RecordEvent)]


def to_human(reason: str, from_state: str, faq_id: str | None, playback: int, timer: int) -> list[Command]:
    """What taking the person path emits once the previous state is left."""
    return [
        RecordEvent("to_human", {"reason": reason, "from_state": from_state, "faq_id": faq_id}),
        Play(f"human-{playback}", (Prompt("human_stub"),), interruptible=False),
        CreateTicket(reason, faq_id, needs_callback=True),
        StartTimer(f"operation-{timer}", OPERATION_TIMEOUT_S),
    ]


# ---- Reaching each state.


def at_greeting(crisis_message: str | None = None, speech_enabled: bool = False) -> Call:
    call = Call(crisis_message, speech_enabled)
    call.start()
    return call


def at_menu(crisis_message: str | None = None, speech_enabled: bool = False) -> Call:
    """The menu prompt is playing (greeting-1 done, menu-2 playing)."""
    call = at_greeting(crisis_message, speech_enabled)
    call.finish()
    return call


def at_menu_waiting() -> Call:
    """The menu prompt has played; the no-input timer (no_input-1) runs."""
    call = at_menu()
    call.finish()
    return call


def at_faq_answer() -> Call:
    call = at_menu_waiting()
    call.keys("1")
    return call


def at_confirm() -> Call:
    call = at_faq_answer()
    call.finish()
    return call


def at_confirm_waiting() -> Call:
    call = at_confirm()
    call.finish()
    return call


def at_dossier_entry() -> Call:
    call = at_menu_waiting()
    call.keys("5")
    return call


def at_dossier_typing() -> Call:
    call = at_dossier_entry()
    call.finish()
    call.keys("123")
    return call


def at_lookup() -> Call:
    call = at_dossier_entry()
    call.finish()
    call.keys(DOSSIER + "#")
    return call


def at_status() -> Call:
    call = at_lookup()
    call.send(TicketLookedUp(DOSSIER, True, TicketStatus.IN_PROGRESS, "Nid-de-poule rue Victor-Hugo"))
    return call


def at_anything_else() -> Call:
    call = at_status()
    call.finish()
    return call


def at_anything_else_waiting() -> Call:
    call = at_anything_else()
    call.finish()
    return call


def at_human() -> Call:
    call = at_menu_waiting()
    call.keys("0")
    return call


def at_goodbye_served() -> Call:
    call = at_confirm_waiting()
    call.keys("1")
    return call


def at_goodbye_ticket() -> Call:
    call = at_human()
    call.finish()
    call.send(TicketCreated(NEW_TICKET))
    return call


BUILDERS: dict[str, Callable[[], Call]] = {
    "greeting": at_greeting,
    "menu playing": at_menu,
    "menu waiting": at_menu_waiting,
    "faq answer": at_faq_answer,
    "confirm": at_confirm,
    "confirm waiting": at_confirm_waiting,
    "dossier entry": at_dossier_entry,
    "dossier typing": at_dossier_typing,
    "dossier lookup": at_lookup,
    "dossier status": at_status,
    "anything else": at_anything_else,
    "anything else waiting": at_anything_else_waiting,
    "human": at_human,
    "goodbye served": at_goodbye_served,
    "goodbye ticket": at_goodbye_ticket,
}
EXPECTED_STATE = {
    "greeting": CallState.GREETING,
    "menu playing": CallState.MENU,
    "menu waiting": CallState.MENU,
    "faq answer": CallState.FAQ_ANSWER,
    "confirm": CallState.CONFIRM,
    "confirm waiting": CallState.CONFIRM,
    "dossier entry": CallState.DOSSIER_ENTRY,
    "dossier typing": CallState.DOSSIER_ENTRY,
    "dossier lookup": CallState.DOSSIER_RESULT,
    "dossier status": CallState.DOSSIER_RESULT,
    "anything else": CallState.DOSSIER_RESULT,
    "anything else waiting": CallState.DOSSIER_RESULT,
    "human": CallState.HUMAN,
    "goodbye served": CallState.GOODBYE,
    "goodbye ticket": CallState.GOODBYE,
}


@pytest.mark.parametrize("name", BUILDERS)
def test_the_builders_reach_their_state(name: str) -> None:
    assert BUILDERS[name]().state() is EXPECTED_STATE[name]


# ---- Main paths, command by command.


def test_greeting_then_menu() -> None:
    call = Call()
    assert call.state() is CallState.GREETING
    assert call.start() == [Play("greeting-1", (Prompt("greeting"),), interruptible=True)]
    assert call.finish() == [Play("menu-2", (Prompt("menu"),), interruptible=True)]
    assert call.state() is CallState.MENU
    assert call.finish() == [StartTimer("no_input-1", NO_INPUT_TIMEOUT_S)]


def test_faq_answer_then_helped_then_goodbye() -> None:
    call = at_menu_waiting()
    assert call.keys("1") == [
        CancelTimer("no_input-1"),
        RecordEvent("menu_choice", {"digit": "1", "target": "mairie.horaires"}),
        RecordEvent("faq_answered", {"faq_id": "mairie.horaires", "action": "answer"}),
        SetAnswered("mairie.horaires"),
        Play("faq_answer-3", (FaqAnswer("mairie.horaires"),), interruptible=False),
    ]
    assert call.finish() == [Play("confirm-4", (Prompt("confirm"),), interruptible=True)]
    assert call.finish() == [StartTimer("no_input-2", NO_INPUT_TIMEOUT_S)]
    assert call.keys("1") == [
        CancelTimer("no_input-2"),
        RecordEvent("confirm", {"faq_id": "mairie.horaires", "helped": 1}),
        Play("goodbye-5", (Prompt("goodbye"),), interruptible=False),
        SetOutcome(CallOutcome.SELF_SERVED),
        StartTimer("goodbye_guard-3", GOODBYE_GUARD_S),
    ]
    assert call.state() is CallState.GOODBYE
    assert call.finish() == [CancelTimer("goodbye_guard-3"), Hangup()]
    assert call.state() is CallState.ENDED
    assert call.send(CallerHungUp()) == []
    assert call.flow.outcome is CallOutcome.SELF_SERVED


def test_faq_answer_not_helped_then_person_then_ticket_number() -> None:
    call = at_confirm_waiting()
    assert call.keys("2") == [
        CancelTimer("no_input-2"),
        RecordEvent("confirm", {"faq_id": "mairie.horaires", "helped": 0}),
        *to_human("not_helped", "confirm", "mairie.horaires", playback=5, timer=3),
    ]
    assert call.state() is CallState.HUMAN
    assert call.finish() == []  # the stub was heard; the ticket is not there yet
    assert call.send(TicketCreated(NEW_TICKET)) == [
        CancelTimer("operation-3"),
        RecordEvent("ticket_created", {"dossier": NEW_TICKET}),
        SetOutcome(CallOutcome.CALLBACK_REQUESTED),
        Play(
            "goodbye-6",
            (Prompt("your_dossier_is"), Digits(NEW_TICKET), Prompt("goodbye")),
            interruptible=False,
        ),
        StartTimer("goodbye_guard-4", GOODBYE_GUARD_S),
    ]
    assert call.finish() == [CancelTimer("goodbye_guard-4"), Hangup()]
    assert call.flow.outcome is CallOutcome.CALLBACK_REQUESTED


def test_ticket_created_while_the_stub_plays_waits_for_its_end() -> None:
    call = at_human()
    assert call.send(TicketCreated(NEW_TICKET)) == [
        CancelTimer("operation-2"),
        RecordEvent("ticket_created", {"dossier": NEW_TICKET}),
        SetOutcome(CallOutcome.CALLBACK_REQUESTED),
    ]
    assert call.state() is CallState.HUMAN
    assert call.finish() == [
        Play("goodbye-4", (Prompt("your_dossier_is"), Digits(NEW_TICKET), Prompt("goodbye")), interruptible=False),
        StartTimer("goodbye_guard-3", GOODBYE_GUARD_S),
    ]
    assert call.send(TicketCreated("99999999")) == []  # a second answer changes nothing


def test_dossier_found() -> None:
    call = at_menu_waiting()
    assert call.keys("5") == [
        CancelTimer("no_input-1"),
        RecordEvent("menu_choice", {"digit": "5", "target": "dossier"}),
        Play("dossier_entry-3", (Prompt("dossier_enter"),), interruptible=True),
    ]
    assert call.finish() == [StartTimer("first_digit-2", DOSSIER_FIRST_DIGIT_TIMEOUT_S)]
    expected: list[Command] = []
    previous = "first_digit-2"
    for index, _ in enumerate(DOSSIER, start=3):
        expected += [CancelTimer(previous), StartTimer(f"inter_digit-{index}", DOSSIER_INTER_DIGIT_TIMEOUT_S)]
        previous = f"inter_digit-{index}"
    assert call.keys(DOSSIER) == expected
    assert call.keys("#") == [
        CancelTimer("inter_digit-10"),
        LookupTicket(DOSSIER),
        StartTimer("operation-11", OPERATION_TIMEOUT_S),
    ]
    assert call.state() is CallState.DOSSIER_RESULT
    assert call.send(TicketLookedUp(DOSSIER, True, TicketStatus.IN_PROGRESS, "Bac cassé")) == [
        CancelTimer("operation-11"),
        RecordEvent("dossier_lookup", {"dossier": DOSSIER, "found": 1, "status": "in_progress"}),
        Play(
            "dossier_result-4",
            (Prompt("dossier_status_intro"), Digits(DOSSIER), Prompt("ticket_status.in_progress")),
            interruptible=False,
        ),
    ]
    assert call.finish() == [
        SetOutcome(CallOutcome.SELF_SERVED),
        Play("dossier_result-5", (Prompt("anything_else"),), interruptible=True),
    ]
    assert call.finish() == [StartTimer("no_input-12", NO_INPUT_TIMEOUT_S)]
    assert call.keys("1") == [CancelTimer("no_input-12"), Play("menu-6", (Prompt("menu"),), interruptible=True)]
    assert call.state() is CallState.MENU
    assert call.send(CallerHungUp()) == [RecordEvent("caller_hung_up", {"state": "menu"})]  # served already
    assert call.flow.outcome is CallOutcome.SELF_SERVED


@pytest.mark.parametrize("status", list(TicketStatus))
def test_each_status_is_read_with_its_sentence(status: TicketStatus) -> None:
    call = at_lookup()
    play = of_type(call.send(TicketLookedUp(DOSSIER, True, status, None)), Play)[0]
    assert play.media[-1] == Prompt(f"ticket_status.{status.value}")


def test_dossier_not_found_is_a_retry() -> None:
    call = at_lookup()
    assert call.send(TicketLookedUp(DOSSIER, False, None, None)) == [
        CancelTimer("operation-11"),
        RecordEvent("dossier_lookup", {"dossier": DOSSIER, "found": 0, "status": None}),
        RecordEvent("reprompt", {"state": "dossier_entry", "reason": "dossier_not_found", "count": 1}),
        Play("dossier_entry-4", (Prompt("dossier_not_found"), Prompt("dossier_enter")), interruptible=True),
    ]
    assert call.state() is CallState.DOSSIER_ENTRY
    call.keys(DOSSIER + "#")
    call.send(TicketLookedUp(DOSSIER, False, None, None))
    assert call.last_play().media[0] == Prompt("dossier_not_found")
    call.keys(DOSSIER + "#")
    out = call.send(TicketLookedUp(DOSSIER, False, None, None))
    assert records(out) == ["dossier_lookup", "to_human"]
    assert of_type(out, CreateTicket) == [CreateTicket("retries_exhausted", None, needs_callback=True)]
    assert call.state() is CallState.HUMAN


def test_wrong_check_digit_is_a_retry() -> None:
    call = at_dossier_entry()
    call.finish()
    call.keys(WRONG_CHECK_DIGIT)
    assert call.keys("#") == [
        CancelTimer("inter_digit-10"),
        RecordEvent("dossier_rejected", {"digits_typed": 8}),
        RecordEvent("reprompt", {"state": "dossier_entry", "reason": "dossier_invalid", "count": 1}),
        Play("dossier_entry-4", (Prompt("dossier_invalid"), Prompt("dossier_enter")), interruptible=True),
    ]
    assert call.state() is CallState.DOSSIER_ENTRY
    # The number is typed again from scratch: the good one now goes through.
    call.keys(DOSSIER + "#")
    assert of_type(call.history, LookupTicket) == [LookupTicket(DOSSIER)]


@pytest.mark.parametrize("typed", ["1234567", "123456710", "10", "1"])
def test_wrong_lengths_are_rejected(typed: str) -> None:
    call = at_dossier_typing()
    call.keys("*")  # start again
    call.keys(typed + "#")
    assert call.last_play().media[0] == Prompt("dossier_invalid")
    assert not of_type(call.history, LookupTicket)


def test_three_wrong_numbers_reach_a_person() -> None:
    call = at_dossier_entry()
    for _ in range(MAX_REPROMPTS):
        call.keys(WRONG_CHECK_DIGIT + "#")
    out = call.keys(WRONG_CHECK_DIGIT + "#")
    assert records(out) == ["dossier_rejected", "to_human"]
    assert call.state() is CallState.HUMAN


def test_zero_inside_a_dossier_number_is_a_digit() -> None:
    call = at_dossier_entry()
    call.keys(DOSSIER_WITH_ZEROS + "#")
    assert call.state() is CallState.DOSSIER_RESULT
    assert of_type(call.history, LookupTicket) == [LookupTicket(DOSSIER_WITH_ZEROS)]
    assert not of_type(call.history, CreateTicket)


def test_typing_during_the_dossier_prompt_stops_it() -> None:
    call = at_dossier_entry()
    assert call.keys("1") == [
        StopPlayback("dossier_entry-3"),
        StartTimer("inter_digit-2", DOSSIER_INTER_DIGIT_TIMEOUT_S),
    ]
    assert call.send(PlaybackFinished("dossier_entry-3")) == []  # the stopped playback's end


def test_timeout_mid_entry_says_incomplete() -> None:
    call = at_dossier_typing()
    assert call.fire() == [
        RecordEvent("reprompt", {"state": "dossier_entry", "reason": "dossier_incomplete", "count": 1}),
        Play("dossier_entry-4", (Prompt("dossier_incomplete"), Prompt("dossier_enter")), interruptible=True),
    ]
    call.finish()
    call.keys(DOSSIER + "#")  # the three digits typed before are gone
    assert of_type(call.history, LookupTicket) == [LookupTicket(DOSSIER)]


def test_a_whole_number_without_hash_is_taken_after_the_inter_digit_timeout() -> None:
    call = at_dossier_entry()
    call.keys(DOSSIER)
    out = call.fire()
    assert out == [LookupTicket(DOSSIER), StartTimer("operation-10", OPERATION_TIMEOUT_S)]


def test_first_digit_timeout_is_a_no_input() -> None:
    call = at_dossier_entry()
    call.finish()
    assert call.fire() == [
        RecordEvent("reprompt", {"state": "dossier_entry", "reason": "no_input", "count": 1}),
        Play("dossier_entry-4", (Prompt("no_input"), Prompt("dossier_enter")), interruptible=True),
    ]


def test_hash_alone_is_an_invalid_key() -> None:
    call = at_dossier_entry()
    call.finish()
    out = call.keys("#")
    assert out[-1] == Play("dossier_entry-4", (Prompt("invalid"), Prompt("dossier_enter")), interruptible=True)


def test_keys_beyond_the_bound_are_dropped() -> None:
    call = at_dossier_entry()
    call.keys("1" * 100 + "#")
    assert call.last_play().media[0] == Prompt("dossier_invalid")
    rejected = [c for c in of_type(call.history, RecordEvent) if c.kind == "dossier_rejected"]
    assert rejected == [RecordEvent("dossier_rejected", {"digits_typed": 16})]


def test_lookup_timeout_goes_to_a_person() -> None:
    call = at_lookup()
    assert call.fire() == [
        RecordEvent("dossier_lookup_failed", {"dossier": DOSSIER}),
        *to_human("lookup_failed", "dossier_result", None, playback=4, timer=12),
    ]
    assert call.send(TicketLookedUp(DOSSIER, True, TicketStatus.OPEN, None)) == []  # too late


def test_found_without_status_goes_to_a_person() -> None:
    call = at_lookup()
    out = call.send(TicketLookedUp(DOSSIER, True, None, None))
    assert of_type(out, CreateTicket) == [CreateTicket("lookup_failed", None, needs_callback=True)]


def test_answer_for_another_dossier_is_ignored() -> None:
    call = at_lookup()
    assert call.send(TicketLookedUp("20240013", True, TicketStatus.OPEN, None)) == []
    assert call.state() is CallState.DOSSIER_RESULT


def test_ticket_creation_timeout_ends_the_call_politely() -> None:
    call = at_human()
    call.finish()
    assert call.fire() == [
        RecordEvent("ticket_failed", {}),
        Play("goodbye-4", (Prompt("technical_problem"), Prompt("goodbye")), interruptible=False),
        SetOutcome(CallOutcome.FALLBACK),
        StartTimer("goodbye_guard-3", GOODBYE_GUARD_S),
    ]
    assert call.send(TicketCreated(NEW_TICKET)) == []  # too late
    assert call.keys("0") == []  # already on the person path
    assert call.finish() == [CancelTimer("goodbye_guard-3"), Hangup()]


def test_goodbye_guard_hangs_up_when_playback_end_is_lost() -> None:
    call = at_goodbye_served()
    assert call.fire() == [Hangup()]
    assert call.state() is CallState.ENDED


# ---- Every menu digit.


def test_menu_digit_answer_entries() -> None:
    for digit, faq_id in (("1", "mairie.horaires"), ("2", "etat-civil.carte-identite")):
        call = at_menu_waiting()
        out = call.keys(digit)
        assert out[-1] == Play("faq_answer-3", (FaqAnswer(faq_id),), interruptible=False)
        assert call.state() is CallState.FAQ_ANSWER


def test_menu_digit_report_entry_plays_the_answer_then_books_a_callback() -> None:
    call = at_menu_waiting()
    out = call.keys("3")
    assert out[-1] == Play("faq_answer-3", (FaqAnswer("dechets.collecte"),), interruptible=False)
    assert call.finish() == to_human("report", "faq_answer", "dechets.collecte", playback=4, timer=2)


def test_menu_digit_transfer_entry_goes_straight_to_a_person() -> None:
    call = at_menu_waiting()
    assert call.keys("4") == [
        CancelTimer("no_input-1"),
        RecordEvent("menu_choice", {"digit": "4", "target": "eau.coupure"}),
        *to_human("transfer", "menu", "eau.coupure", playback=3, timer=2),
    ]


def test_menu_digit_dossier() -> None:
    call = at_menu_waiting()
    assert call.keys("5")[-1] == Play("dossier_entry-3", (Prompt("dossier_enter"),), interruptible=True)
    assert call.state() is CallState.DOSSIER_ENTRY


@pytest.mark.parametrize("key", ["6", "7", "8", "9", "#"])
def test_menu_keys_that_are_no_choice_are_invalid(key: str) -> None:
    call = at_menu_waiting()
    assert call.keys(key) == [
        CancelTimer("no_input-1"),
        RecordEvent("reprompt", {"state": "menu", "reason": "invalid", "count": 1}),
        Play("menu-3", (Prompt("invalid"), Prompt("menu")), interruptible=True),
    ]


def test_a_menu_key_during_the_menu_prompt_barges_in() -> None:
    call = at_menu()
    assert call.keys("2")[:2] == [
        StopPlayback("menu-2"),
        RecordEvent("menu_choice", {"digit": "2", "target": "etat-civil.carte-identite"}),
    ]
    assert call.send(PlaybackFinished("menu-2")) == []  # stale


def test_a_menu_choice_typed_during_the_greeting_is_taken() -> None:
    call = at_greeting()
    assert call.keys("2") == [
        StopPlayback("greeting-1"),
        RecordEvent("menu_choice", {"digit": "2", "target": "etat-civil.carte-identite"}),
        RecordEvent("faq_answered", {"faq_id": "etat-civil.carte-identite", "action": "answer"}),
        SetAnswered("etat-civil.carte-identite"),
        Play("faq_answer-2", (FaqAnswer("etat-civil.carte-identite"),), interruptible=False),
    ]


def test_another_key_during_the_greeting_skips_to_the_menu() -> None:
    call = at_greeting()
    assert call.keys("#") == [StopPlayback("greeting-1"), Play("menu-2", (Prompt("menu"),), interruptible=True)]


# ---- Crisis pre-announcement.


def test_crisis_message_follows_the_greeting_and_is_heard_in_full() -> None:
    call = Call(crisis_message=CRISIS)
    assert call.start() == [Play("greeting-1", (Prompt("greeting"), Say(CRISIS)), interruptible=False)]
    assert call.keys("1") == []  # ignored: the announcement is not interruptible
    assert call.keys("#") == []
    assert call.finish() == [Play("menu-2", (Prompt("menu"),), interruptible=True)]


def test_zero_still_cuts_the_crisis_message() -> None:
    call = Call(crisis_message=CRISIS)
    call.start()
    assert call.keys("0")[0] == StopPlayback("greeting-1")
    assert call.state() is CallState.HUMAN


def test_star_replays_the_crisis_message() -> None:
    call = Call(crisis_message=CRISIS)
    call.start()
    assert call.keys("*") == [
        RecordEvent("repeat", {"state": "greeting"}),
        StopPlayback("greeting-1"),
        Play("greeting-2", (Prompt("greeting"), Say(CRISIS)), interruptible=False),
    ]


def test_an_uploaded_crisis_recording_is_heard_instead_of_the_text_and_in_full() -> None:
    flow = CallFlow(MENU, ACTIONS, crisis_message=CRISIS, crisis_recording="recorded/abc123")
    assert flow.crisis_mode
    [greeting] = flow.handle(CallStarted(CALLER, CALLED))
    assert greeting == Play("greeting-1", (Prompt("greeting"), Sound("recorded/abc123")), interruptible=False)


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_crisis_message_is_no_crisis_message(blank: str) -> None:
    assert Call(crisis_message=blank).start() == [Play("greeting-1", (Prompt("greeting"),), interruptible=True)]


# ---- '*' repeats the current prompt.

REPEATED: dict[str, tuple[tuple[object, ...], bool]] = {
    "greeting": ((Prompt("greeting"),), True),
    "menu playing": ((Prompt("menu"),), True),
    "menu waiting": ((Prompt("menu"),), True),
    "faq answer": ((FaqAnswer("mairie.horaires"),), False),
    "confirm": ((Prompt("confirm"),), True),
    "confirm waiting": ((Prompt("confirm"),), True),
    "dossier entry": ((Prompt("dossier_enter"),), True),
    "dossier typing": ((Prompt("dossier_enter"),), True),
    "dossier status": (
        (Prompt("dossier_status_intro"), Digits(DOSSIER), Prompt("ticket_status.in_progress")),
        False,
    ),
    "anything else": (
        (Prompt("dossier_status_intro"), Digits(DOSSIER), Prompt("ticket_status.in_progress")),
        False,
    ),
    "anything else waiting": (
        (Prompt("dossier_status_intro"), Digits(DOSSIER), Prompt("ticket_status.in_progress")),
        False,
    ),
    "human": ((Prompt("human_stub"),), False),
    "goodbye served": ((Prompt("goodbye"),), False),
    "goodbye ticket": ((Prompt("your_dossier_is"), Digits(NEW_TICKET), Prompt("goodbye")), False),
}


@pytest.mark.parametrize("name", REPEATED)
def test_star_repeats_the_current_prompt(name: str) -> None:
    call = BUILDERS[name]()
    state, playing, timer = call.state(), call.playing, call.timer
    out = call.keys("*")
    assert out[0] == RecordEvent("repeat", {"state": state.value})
    if playing is not None:
        assert StopPlayback(playing) in out
    if timer is not None and state not in (CallState.HUMAN, CallState.GOODBYE):
        assert CancelTimer(timer) in out
    play = of_type(out, Play)[-1]
    assert (play.media, play.interruptible) == REPEATED[name]
    assert play.playback_id.startswith(state.value + "-")
    assert call.state() is state
    assert not of_type(out, CreateTicket)


def test_star_does_not_count_as_a_failure() -> None:
    call = at_menu_waiting()
    for _ in range(5):
        call.keys("*")
        call.finish()
    call.fire()
    assert call.history[-1] == Play("menu-8", (Prompt("no_input"), Prompt("menu")), interruptible=True)


def test_star_during_dossier_entry_starts_the_number_again() -> None:
    call = at_dossier_typing()
    call.keys("*")
    call.keys(DOSSIER + "#")
    assert of_type(call.history, LookupTicket) == [LookupTicket(DOSSIER)]


def test_star_in_human_keeps_the_ticket_guard_timer() -> None:
    call = at_human()
    out = call.keys("*")
    assert not of_type(out, CancelTimer)
    assert call.timer == "operation-2"


def test_star_during_lookup_does_nothing() -> None:
    call = at_lookup()
    assert call.keys("*") == []


def test_star_in_goodbye_restarts_the_guard() -> None:
    call = at_goodbye_ticket()
    out = call.keys("*")
    assert of_type(out, CancelTimer) == [CancelTimer("goodbye_guard-3")]
    assert of_type(out, StartTimer) == [StartTimer("goodbye_guard-4", GOODBYE_GUARD_S)]


# ---- '0' reaches a person from every state.

ZERO_REACHES_A_PERSON = [name for name in BUILDERS if name not in ("human", "goodbye ticket", "dossier typing")]


@pytest.mark.parametrize("name", ZERO_REACHES_A_PERSON)
def test_zero_reaches_a_person(name: str) -> None:
    call = BUILDERS[name]()
    state, playing, timer = call.state(), call.playing, call.timer
    out = call.keys("0")
    leave: list[Command] = []
    if playing is not None:
        leave.append(StopPlayback(playing))
    if timer is not None:
        leave.append(CancelTimer(timer))
    faq_id = "mairie.horaires" if state in (CallState.FAQ_ANSWER, CallState.CONFIRM, CallState.GOODBYE) else None
    assert out[: len(leave)] == leave
    rest = out[len(leave) :]
    assert rest[0] == RecordEvent("to_human", {"reason": "caller_asked", "from_state": state.value, "faq_id": faq_id})
    assert isinstance(rest[1], Play)
    assert rest[1] == Play(rest[1].playback_id, (Prompt("human_stub"),), interruptible=False)
    assert rest[2:] == [
        CreateTicket("caller_asked", faq_id, needs_callback=True),
        StartTimer(call.timer or "", OPERATION_TIMEOUT_S),
    ]
    assert call.state() is CallState.HUMAN


@pytest.mark.parametrize("name", ["human", "goodbye ticket"])
def test_zero_on_the_person_path_books_no_second_ticket(name: str) -> None:
    call = BUILDERS[name]()
    assert call.keys("0") == []


def test_zero_after_a_served_goodbye_still_reaches_a_person() -> None:
    call = at_goodbye_served()
    call.keys("0")
    call.finish()
    call.send(TicketCreated(NEW_TICKET))
    assert call.flow.outcome is CallOutcome.CALLBACK_REQUESTED


# ---- No input and invalid keys: reprompt twice, then a person.


def test_menu_no_input_twice_then_a_person() -> None:
    call = at_menu_waiting()
    assert call.fire() == [
        RecordEvent("reprompt", {"state": "menu", "reason": "no_input", "count": 1}),
        Play("menu-3", (Prompt("no_input"), Prompt("menu")), interruptible=True),
    ]
    assert call.finish() == [StartTimer("no_input-2", NO_INPUT_TIMEOUT_S)]
    assert call.fire() == [
        RecordEvent("reprompt", {"state": "menu", "reason": "no_input", "count": 2}),
        Play("menu-4", (Prompt("no_input"), Prompt("menu")), interruptible=True),
    ]
    call.finish()
    assert call.fire() == to_human("retries_exhausted", "menu", None, playback=5, timer=4)


def test_menu_invalid_keys_and_no_input_share_the_count() -> None:
    call = at_menu_waiting()
    call.keys("9")
    call.finish()
    call.fire()
    out = call.keys("8")
    assert of_type(out, CreateTicket) == [CreateTicket("retries_exhausted", None, needs_callback=True)]
    assert [c.data["count"] for c in of_type(call.history, RecordEvent) if c.kind == "reprompt"] == [1, 2]


def test_confirm_invalid_twice_then_a_person() -> None:
    call = at_confirm_waiting()
    assert call.keys("5") == [
        CancelTimer("no_input-2"),
        RecordEvent("reprompt", {"state": "confirm", "reason": "invalid", "count": 1}),
        Play("confirm-5", (Prompt("invalid"), Prompt("confirm")), interruptible=True),
    ]
    call.keys("5")
    out = call.keys("5")
    assert of_type(out, CreateTicket) == [CreateTicket("retries_exhausted", "mairie.horaires", needs_callback=True)]


def test_confirm_no_input_twice_then_a_person() -> None:
    call = at_confirm_waiting()
    call.fire()
    call.finish()
    call.fire()
    call.finish()
    out = call.fire()
    assert of_type(out, CreateTicket) == [CreateTicket("retries_exhausted", "mairie.horaires", needs_callback=True)]


def test_dossier_entry_no_input_twice_then_a_person() -> None:
    call = at_dossier_entry()
    for _ in range(MAX_REPROMPTS):
        call.finish()
        call.fire()
    call.finish()
    out = call.fire()
    assert records(out) == ["to_human"]
    assert call.state() is CallState.HUMAN


def test_anything_else_invalid_is_reprompted() -> None:
    call = at_anything_else_waiting()
    assert call.keys("7") == [
        CancelTimer("no_input-12"),
        RecordEvent("reprompt", {"state": "dossier_result", "reason": "invalid", "count": 1}),
        Play("dossier_result-6", (Prompt("invalid"), Prompt("anything_else")), interruptible=True),
    ]


def test_silence_after_the_status_ends_the_call_without_booking_a_callback() -> None:
    """A judgment call: the status was read and "or hang up" said, so silence means done."""
    call = at_anything_else_waiting()
    call.fire()
    call.finish()
    call.fire()
    call.finish()
    out = call.fire()
    assert [play.media for play in of_type(out, Play)] == [(Prompt("goodbye"),)]
    assert not of_type(out, CreateTicket)
    assert call.state() is CallState.GOODBYE
    call.finish()
    assert call.flow.outcome is CallOutcome.SELF_SERVED


def test_keys_during_the_status_are_ignored_except_zero_and_star() -> None:
    call = at_status()
    assert call.keys("123456789#") == []


def test_keys_during_an_answer_are_ignored_except_zero_and_star() -> None:
    call = at_faq_answer()
    assert call.keys("123456789#") == []


def test_keys_in_human_and_goodbye_are_ignored() -> None:
    assert at_human().keys("123456789#") == []
    assert at_goodbye_served().keys("123456789#") == []


# ---- Hangup by the caller.

HANGUP_STATES = list(BUILDERS)
ALREADY_SERVED = {"anything else", "anything else waiting", "goodbye served", "goodbye ticket"}
LATE_EVENTS: list[Event] = [
    CallStarted(CALLER, CALLED),
    DtmfReceived("0"),
    DtmfReceived("*"),
    DtmfReceived("1"),
    PlaybackFinished("menu-2"),
    TimerFired("no_input-1"),
    CallerHungUp(),
    TicketLookedUp(DOSSIER, True, TicketStatus.OPEN, None),
    TicketCreated(NEW_TICKET),
    SpeechRecognized("les horaires de la mairie", "mairie.horaires", 0.9, ()),
]


@pytest.mark.parametrize("name", HANGUP_STATES)
def test_hangup_in_each_state(name: str) -> None:
    call = BUILDERS[name]()
    state, outcome = call.state(), call.flow.outcome
    playing, timer = call.playing, call.timer
    out = call.send(CallerHungUp())
    if name in ALREADY_SERVED:
        assert outcome is not None
        assert out == [RecordEvent("caller_hung_up", {"state": state.value})]
    else:
        assert outcome is None
        assert out == [RecordEvent("caller_hung_up", {"state": state.value}), SetOutcome(CallOutcome.ABANDONED)]
    assert call.state() is CallState.ENDED
    late = [*LATE_EVENTS]
    if playing:
        late.append(PlaybackFinished(playing))
    if timer:
        late.append(TimerFired(timer))
    for event in late:
        assert call.flow.handle(event) == [], event


def test_hangup_before_the_call_started() -> None:
    call = Call()
    assert call.send(CallerHungUp()) == [
        RecordEvent("caller_hung_up", {"state": "greeting"}),
        SetOutcome(CallOutcome.ABANDONED),
    ]
    assert call.start() == []


def test_hangup_on_the_person_path_before_the_ticket_is_abandoned() -> None:
    call = at_human()
    call.send(CallerHungUp())
    assert call.flow.outcome is CallOutcome.ABANDONED
    assert call.send(TicketCreated(NEW_TICKET)) == []


# ---- Stale and out-of-place events.


def test_stale_playback_finished_is_ignored() -> None:
    call = at_menu()
    assert call.send(PlaybackFinished("greeting-1")) == []
    assert call.send(PlaybackFinished("menu-99")) == []
    assert call.send(PlaybackFinished("")) == []
    assert call.state() is CallState.MENU
    assert call.finish() == [StartTimer("no_input-1", NO_INPUT_TIMEOUT_S)]
    assert call.send(PlaybackFinished("menu-2")) == []  # the same end twice


def test_replaced_playback_end_is_ignored() -> None:
    call = at_menu()
    call.keys("*")
    assert call.send(PlaybackFinished("menu-2")) == []
    assert call.finish() == [StartTimer("no_input-1", NO_INPUT_TIMEOUT_S)]


def test_stale_timer_is_ignored() -> None:
    call = at_menu_waiting()
    call.keys("*")  # cancels no_input-1
    assert call.send(TimerFired("no_input-1")) == []
    assert call.send(TimerFired("nonsense")) == []
    call.finish()
    assert call.timer == "no_input-2"  # a fresh name: a late firing of the old one cannot be mistaken for it


def test_events_before_the_call_started_are_ignored() -> None:
    call = Call()
    for event in (DtmfReceived("1"), DtmfReceived("0"), PlaybackFinished("greeting-1"), TimerFired("x")):
        assert call.send(event) == []
    assert call.state() is CallState.GREETING


def test_a_second_call_started_is_ignored() -> None:
    call = at_greeting()
    assert call.start() == []


@pytest.mark.parametrize("digit", ["A", "", "12", "x"])
def test_garbage_dtmf_is_ignored(digit: str) -> None:
    assert at_menu_waiting().send(DtmfReceived(digit)) == []


def test_ticket_events_out_of_place_are_ignored() -> None:
    call = at_menu_waiting()
    assert call.send(TicketLookedUp(DOSSIER, True, TicketStatus.OPEN, None)) == []
    assert call.send(TicketCreated(NEW_TICKET)) == []
    assert call.state() is CallState.MENU


# ---- Speech (recognised and matched by the speech layer; the flow acts on the result).


def speech_menu() -> Call:
    """A speech call: the menu prompt is playing (greeting-1 done, menu-2 playing)."""
    return at_menu(speech_enabled=True)


def speech_menu_waiting() -> Call:
    call = speech_menu()
    call.finish()
    return call


def heard(text: str, faq_id: str | None = None, score: float = 0.9, **more: object) -> SpeechRecognized:
    return SpeechRecognized(text, faq_id, score, (), **more)  # type: ignore[arg-type]


def test_a_speech_call_listens_for_free_speech_from_the_greeting() -> None:
    call = Call(speech_enabled=True)
    out = call.start()
    assert out[0] == Listen(Expect.FREE)
    assert call.finish() == [Play("menu-2", (Prompt("speech_hint"), Prompt("menu")), interruptible=True)]


def test_a_keys_only_call_never_listens() -> None:
    call = at_confirm_waiting()
    assert of_type(call.history, Listen) == []
    assert call.send(SpeechStarted()) == []
    assert call.send(heard("oui", yes_no=True)) == []


def test_speech_matching_an_answer_entry() -> None:
    call = speech_menu()
    out = call.send(SpeechRecognized("c'est ouvert quand la mairie", "mairie.horaires", 0.82, ("mairie.adresse",)))
    assert out == [
        RecordEvent(
            "speech",
            {
                "state": "menu",
                "text": "c'est ouvert quand la mairie",
                "faq_id": "mairie.horaires",
                "score": 0.82,
                "suggestion": None,
                "alternatives": "mairie.adresse",
            },
        ),
        StopPlayback("menu-2"),
        RecordEvent("faq_answered", {"faq_id": "mairie.horaires", "action": "answer"}),
        SetAnswered("mairie.horaires"),
        Play("faq_answer-3", (FaqAnswer("mairie.horaires"),), interruptible=False),
    ]


def test_speech_matching_each_action() -> None:
    call = speech_menu_waiting()
    call.send(heard("je veux parler à quelqu'un", "accueil.conseiller"))
    assert of_type(call.history, CreateTicket) == [CreateTicket("transfer", "accueil.conseiller", True)]

    call = speech_menu_waiting()
    call.send(heard("où en est mon dossier", "suivi.demande"))
    assert call.state() is CallState.DOSSIER_ENTRY

    call = speech_menu_waiting()
    call.send(heard("je voudrais une aide du CCAS", "social.ccas-aides"))
    assert call.last_play().media == (FaqAnswer("social.ccas-aides"),)
    out = call.finish()
    assert of_type(out, CreateTicket) == [CreateTicket("callback", "social.ccas-aides", True)]


def test_barge_in_stops_the_menu_and_holds_the_no_input_timer() -> None:
    call = speech_menu()
    out = call.send(SpeechStarted())
    assert out == [
        RecordEvent("barge_in", {"state": "menu"}),
        StopPlayback("menu-2"),
        StartTimer("speech_result-1", SPEECH_RESULT_TIMEOUT_S),
    ]
    assert call.playing is None


def test_speaking_after_the_prompt_replaces_the_no_input_timer() -> None:
    call = speech_menu_waiting()
    assert call.send(SpeechStarted()) == [
        CancelTimer("no_input-1"),
        StartTimer("speech_result-2", SPEECH_RESULT_TIMEOUT_S),
    ]


def test_speaking_over_the_welcome_goes_straight_to_the_request() -> None:
    call = Call(speech_enabled=True)
    call.start()
    out = call.send(SpeechStarted())
    assert out[:2] == [RecordEvent("barge_in", {"state": "greeting"}), StopPlayback("greeting-1")]
    assert call.state() is CallState.MENU
    out = call.send(heard("les horaires de la mairie", "mairie.horaires"))
    assert call.last_play().media == (FaqAnswer("mairie.horaires"),)


def test_voice_does_not_cut_an_answer_or_the_crisis_message() -> None:
    call = speech_menu()
    call.send(heard("les horaires de la mairie", "mairie.horaires"))
    assert call.state() is CallState.FAQ_ANSWER
    assert call.send(SpeechStarted()) == []
    assert call.send(heard("bonjour", "eau.coupure")) == []

    call = Call(CRISIS, speech_enabled=True)
    call.start()
    assert call.send(SpeechStarted()) == []
    assert call.state() is CallState.GREETING


def test_the_answer_is_confirmed_by_voice() -> None:
    call = speech_menu()
    call.send(heard("les horaires de la mairie", "mairie.horaires"))
    out = call.finish()
    assert out == [Listen(Expect.YES_NO), Play("confirm-4", (Prompt("confirm_speech"),), interruptible=True)]
    call.finish()
    call.send(heard("oui merci", yes_no=True))
    assert call.state() is CallState.GOODBYE
    assert call.flow.outcome is CallOutcome.SELF_SERVED


def test_non_to_the_confirmation_reaches_a_person() -> None:
    call = speech_menu()
    call.send(heard("les horaires de la mairie", "mairie.horaires"))
    call.finish()
    out = call.send(heard("non", yes_no=False))
    assert of_type(out, CreateTicket) == [CreateTicket("not_helped", "mairie.horaires", True)]


def test_keys_still_answer_the_confirmation_on_a_speech_call() -> None:
    call = speech_menu()
    call.send(heard("les horaires de la mairie", "mairie.horaires"))
    call.finish()
    call.keys("1")
    assert call.flow.outcome is CallOutcome.SELF_SERVED


def test_a_confirmation_not_understood_is_asked_again_then_a_person() -> None:
    call = speech_menu()
    call.send(heard("les horaires de la mairie", "mairie.horaires"))
    call.finish()
    call.finish()
    out = call.send(heard("peut-être"))
    assert call.last_play().media == (Prompt("no_match"), Prompt("confirm_speech"))
    assert records(out) == ["speech", "reprompt"]
    out = call.send(heard("je sais pas"))
    assert of_type(out, CreateTicket) == [CreateTicket("retries_exhausted", "mairie.horaires", True)]


def test_a_low_confidence_match_asks_once() -> None:
    call = speech_menu()
    out = call.send(
        SpeechRecognized("la mairie", None, 0.28, ("mairie.horaires",), "mairie.horaires", "Horaires de la mairie")
    )
    assert KeepUnmatched("la mairie", "mairie.horaires", 0.28) in out
    assert Listen(Expect.YES_NO) in out
    assert call.state() is CallState.CONFIRM_TOPIC
    assert call.last_play().media == (Say("Vous voulez parler de : Horaires de la mairie ?"), Prompt("yes_or_no"))
    call.finish()
    call.send(heard("oui", yes_no=True))
    assert call.state() is CallState.FAQ_ANSWER
    assert call.last_play().media == (FaqAnswer("mairie.horaires"),)


def test_a_suggestion_refused_is_one_more_failure_of_the_menu() -> None:
    call = speech_menu()
    call.send(SpeechRecognized("la mairie", None, 0.28, (), "mairie.horaires", "Horaires de la mairie"))
    out = call.send(heard("non", yes_no=False))
    assert Listen(Expect.FREE) in out
    assert call.state() is CallState.MENU
    assert call.last_play().media[0] == Prompt("no_match")
    out = call.send(heard("euh", None, 0.1))
    assert of_type(out, CreateTicket) == [CreateTicket("retries_exhausted", None, True)]


def test_a_suggestion_is_confirmed_by_key() -> None:
    call = speech_menu()
    call.send(SpeechRecognized("la mairie", None, 0.28, (), "mairie.horaires", "Horaires de la mairie"))
    call.keys("1")
    assert call.state() is CallState.FAQ_ANSWER


def test_speech_without_match_is_kept_reprompted_then_a_person() -> None:
    call = speech_menu()
    out = call.send(SpeechRecognized("euh bonjour", None, 0.2, ("mairie.horaires", "eau.coupure")))
    assert out == [
        RecordEvent(
            "speech",
            {
                "state": "menu",
                "text": "euh bonjour",
                "faq_id": None,
                "score": 0.2,
                "suggestion": None,
                "alternatives": "mairie.horaires,eau.coupure",
            },
        ),
        StopPlayback("menu-2"),
        RecordEvent("reprompt", {"state": "menu", "reason": "no_match", "count": 1}),
        Play("menu-3", (Prompt("no_match"), Prompt("speech_hint"), Prompt("menu")), interruptible=True),
        KeepUnmatched("euh bonjour", "mairie.horaires", 0.2),  # after the play: the caller is waiting
    ]
    out = call.send(SpeechRecognized("bof", None, 0.1, ()))
    assert of_type(out, CreateTicket) == [CreateTicket("retries_exhausted", None, True)]


def test_two_no_inputs_on_a_speech_call_reach_a_person() -> None:
    call = speech_menu_waiting()
    out = call.fire()
    assert call.last_play().media[0] == Prompt("no_input")
    call.finish()
    out = call.fire()
    assert of_type(out, CreateTicket) == [CreateTicket("retries_exhausted", None, True)]


def test_speech_that_never_comes_back_counts_as_no_input() -> None:
    call = speech_menu_waiting()
    call.send(SpeechStarted())
    call.fire()
    assert call.last_play().media[0] == Prompt("no_input")


def test_noise_without_words_counts_as_no_input() -> None:
    call = speech_menu_waiting()
    call.send(SpeechStarted())
    call.send(heard("", None, 0.0))
    assert call.last_play().media[0] == Prompt("no_input")


@pytest.mark.parametrize("build", ["menu", "confirm", "topic"])
def test_conseiller_reaches_a_person_wherever_the_caller_is_heard(build: str) -> None:
    call = speech_menu()
    if build in ("confirm", "topic"):
        if build == "confirm":
            call.send(heard("les horaires de la mairie", "mairie.horaires"))
            call.finish()
        else:
            call.send(SpeechRecognized("la mairie", None, 0.28, (), "mairie.horaires", "Horaires de la mairie"))
    out = call.send(heard("un conseiller", wants_human=True))
    assert of_type(out, CreateTicket)[0].reason == "caller_asked"


def test_speech_naming_an_unknown_entry_is_no_match() -> None:
    call = speech_menu_waiting()
    out = call.send(heard("truc", "inconnu.entree"))
    assert call.last_play().media[0] == Prompt("no_match")
    assert records(out) == ["speech", "reprompt"]


CAF_SAYS = "Pour vos allocations, adressez-vous à la caf, au 32 30."


def test_a_question_for_another_body_hears_no_answer_where_to_turn_and_the_person() -> None:
    call = speech_menu()
    out = call.send(
        heard("la caf m'a rien versé", score=0.5, out_of_scope=True, referral="caf", referral_says=CAF_SAYS)
    )
    assert out[1:] == [
        StopPlayback("menu-2"),
        RecordEvent("not_handled", {"referral": "caf"}),
        RecordEvent("reprompt", {"state": "menu", "reason": "not_handled", "count": 1}),
        Play("menu-3", (Prompt("not_handled"), Say(CAF_SAYS), Prompt("not_handled_next")), interruptible=True),
        KeepUnmatched("la caf m'a rien versé", None, 0.5),  # the knowledge editors see it too
    ]
    assert call.state() is CallState.MENU  # another question, a key, or 0 for a person
    assert call.finish() == [StartTimer("no_input-1", NO_INPUT_TIMEOUT_S)]
    call.keys("0")
    assert of_type(call.history, CreateTicket) == [CreateTicket("caller_asked", None, True)]


def test_a_question_for_no_one_here_hears_no_answer_and_the_person() -> None:
    call = speech_menu_waiting()
    call.send(heard("à quelle heure ferme le leclerc", score=0.67, out_of_scope=True))
    assert call.last_play().media == (Prompt("not_handled"), Prompt("not_handled_next"))
    out = call.send(heard("et le pressing", score=0.4, out_of_scope=True))
    assert of_type(out, CreateTicket) == [CreateTicket("retries_exhausted", None, True)]  # counts as a failure


def test_the_menu_is_not_read_again_after_no_answer() -> None:
    call = speech_menu_waiting()
    call.send(heard("ma banque", score=0.3, out_of_scope=True))
    assert Prompt("menu") not in call.last_play().media


def test_speech_outside_the_listening_states_is_ignored() -> None:
    call = speech_menu_waiting()
    call.keys("5")
    assert call.state() is CallState.DOSSIER_ENTRY
    assert call.send(SpeechStarted()) == []
    assert call.send(heard("oui", "mairie.horaires", yes_no=True)) == []


# ---- A call adopted after a crash of the app.


def test_a_resumed_call_hears_an_apology_then_the_menu() -> None:
    call = Call()
    assert call.send(CallResumed()) == [
        RecordEvent("call_resumed", {}),
        Play("menu-1", (Prompt("call_resumed"), Prompt("menu")), interruptible=True),
    ]
    assert call.state() is CallState.MENU
    assert call.finish() == [StartTimer("no_input-1", NO_INPUT_TIMEOUT_S)]
    assert call.keys("1")[-1] == Play("faq_answer-2", (FaqAnswer("mairie.horaires"),), interruptible=False)


def test_a_resumed_call_takes_a_menu_key_during_the_apology() -> None:
    call = Call()
    call.send(CallResumed())
    out = call.keys("5")
    assert out[0] == StopPlayback("menu-1")
    assert call.state() is CallState.DOSSIER_ENTRY


def test_a_resumed_speech_call_listens_and_hints() -> None:
    call = Call(speech_enabled=True)
    assert call.send(CallResumed()) == [
        RecordEvent("call_resumed", {}),
        Listen(Expect.FREE),
        Play("menu-1", (Prompt("call_resumed"), Prompt("speech_hint"), Prompt("menu")), interruptible=True),
    ]


def test_a_resumed_call_is_resumed_once_and_not_greeted() -> None:
    call = Call()
    call.send(CallResumed())
    assert call.send(CallResumed()) == []
    assert call.start() == []
    started = Call()
    started.start()
    assert started.send(CallResumed()) == []


def test_a_resumed_call_hung_up_before_the_resume_says_nothing() -> None:
    call = Call()
    call.send(CallerHungUp())
    assert call.send(CallResumed()) == []
    assert call.flow.outcome is CallOutcome.ABANDONED


# ---- Construction.


def test_a_menu_entry_without_an_action_is_refused() -> None:
    with pytest.raises(ValueError, match=r"eau\.coupure"):
        CallFlow(MENU, {k: v for k, v in ACTIONS.items() if k != "eau.coupure"})


def test_the_flow_accepts_the_real_knowledge_base_actions() -> None:
    from pathlib import Path

    from kb.loader import load_kb

    kb = load_kb(Path(__file__).resolve().parents[2] / "kb" / "content")
    flow = CallFlow(load_menu(DEFAULT_MENU_FILE, kb.ids()), {e.id: e.action for e in kb.entries})
    assert flow.handle(CallStarted(CALLER, CALLED))
