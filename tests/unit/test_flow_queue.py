"""The person path with an agents' queue: join, hear the position, be connected; or, nobody there, a callback."""

from __future__ import annotations

from hotline.domain.enums import CallOutcome
from ivr.flow.call_flow import MESSAGE_MAX_S, OPERATION_TIMEOUT_S, CallState
from ivr.flow.commands import (
    CreateTicket,
    Digits,
    JoinQueue,
    LeaveQueue,
    Play,
    Prompt,
    RecordMessage,
    Say,
    SetOutcome,
    StartTimer,
)
from ivr.flow.events import (
    AgentConnected,
    CallerHungUp,
    DtmfReceived,
    MessageRecorded,
    QueueAnnouncement,
    QueueCallbackOffered,
    QueueJoined,
    QueueUnavailable,
    SpeechRecognized,
    TicketCreated,
    Transferred,
)
from ivr.flow.prompts import queue_position_text
from tests.unit.test_flow import Call, of_type, records


def queued_call() -> Call:
    call = Call(queue_enabled=True)
    call.start()
    call.finish()  # the welcome
    out = call.keys("0")
    assert of_type(out, JoinQueue) == [JoinQueue("caller_asked", None, "")]
    assert of_type(out, StartTimer) == [StartTimer(call.timer or "", OPERATION_TIMEOUT_S)]
    assert not of_type(out, Play) and not of_type(out, CreateTicket), "nothing said before the queue answers"
    assert call.state() is CallState.HUMAN
    return call


def test_the_position_text() -> None:
    assert queue_position_text(1, None) == "Vous êtes le prochain."
    assert queue_position_text(3, None) == "Vous êtes le 3e dans la file d'attente."
    assert queue_position_text(3, 1) == "Vous êtes le 3e dans la file d'attente. Votre attente est estimée à 1 minute."
    assert queue_position_text(2, 5).endswith("estimée à 5 minutes.")


def test_joining_says_the_position_opens_a_ticket_without_callback_then_the_agent_answers() -> None:
    call = queued_call()
    out = call.send(QueueJoined(3, 4))
    assert call.state() is CallState.QUEUED
    assert of_type(out, CreateTicket) == [CreateTicket("caller_asked", None, needs_callback=False)]
    play = of_type(out, Play)[0]
    assert play.media == (Prompt("queue_joined"), Say(queue_position_text(3, 4)), Prompt("queue_callback_key"))
    assert not play.interruptible
    assert call.timer is None, "the operation timer is cancelled"
    assert records(call.send(TicketCreated("12345678"))) == ["ticket_created"], "kept for the agent, not said"
    call.finish()
    assert call.state() is CallState.QUEUED and call.playing is None  # the bridge's music plays now
    out = call.send(QueueAnnouncement(1, None))
    assert of_type(out, Play)[0].media == (Say("Vous êtes le prochain."),)
    assert call.send(DtmfReceived("5")) == [] and call.send(DtmfReceived("*")) == []
    out = call.send(QueueCallbackOffered())
    assert of_type(out, Play)[0].media == (
        Prompt("queue_long_wait"),
        Prompt("queue_callback_key"),
        Prompt("queue_message_key"),
    )
    out = call.send(AgentConnected("alice"))
    assert call.state() is CallState.CONNECTED
    assert of_type(out, SetOutcome) == [SetOutcome(CallOutcome.TO_AGENT)]
    assert "agent_connected" in records(out)
    assert call.send(QueueAnnouncement(1, None)) == [], "no announcement once connected"
    call.send(CallerHungUp())
    assert call.flow.outcome is CallOutcome.TO_AGENT


OFFER = (Prompt("no_agent_now"), Prompt("queue_callback_key"), Prompt("queue_message_key"))


def offered_call(speech: bool = False) -> Call:
    """A caller who asked for a person when nobody is logged in: the offer is playing."""
    call = queued_call() if not speech else speech_queued_call()
    out = call.send(QueueUnavailable())
    assert call.state() is CallState.OFFER
    assert of_type(out, Play)[0].media == OFFER
    assert not of_type(out, CreateTicket), "nothing is booked before the caller chooses"
    assert call.send(QueueJoined(1, None)) == [], "a late answer changes nothing"
    return call


def speech_queued_call() -> Call:
    call = Call(queue_enabled=True, speech_enabled=True)
    call.start()
    call.finish()
    out = call.send(SpeechRecognized("un conseiller", None, 0.0, (), wants_human=True))
    assert of_type(out, JoinQueue)
    return call


def test_nobody_logged_in_offers_a_callback_and_key_1_books_it() -> None:
    call = offered_call()
    call.finish()
    out = call.keys("1")
    assert "offer_callback_chosen" in records(out)
    assert of_type(out, Play)[0].media == (Prompt("queue_callback_taken"),)
    assert of_type(out, CreateTicket) == [CreateTicket("caller_asked", None, needs_callback=True)]
    call.send(TicketCreated("12345678"))
    call.finish()
    assert call.state() is CallState.GOODBYE
    assert call.flow.outcome is CallOutcome.CALLBACK_REQUESTED


def test_declining_the_callback_with_key_2_records_a_message_instead() -> None:
    call = offered_call()
    out = call.keys("2")  # while the offer plays: the caller knows what they want
    assert call.state() is CallState.MESSAGE
    assert not of_type(out, LeaveQueue), "not in the queue: nothing to leave"
    assert of_type(out, Play)[0].media == (Prompt("message_intro"),)
    out = call.finish()
    assert of_type(out, RecordMessage) == [RecordMessage(MESSAGE_MAX_S)]
    out = call.send(MessageRecorded("hotline-message-x", 7.5))
    assert of_type(out, CreateTicket) == [
        CreateTicket("caller_asked", None, needs_callback=False, message="hotline-message-x", message_s=7.5)
    ]


def test_a_wrong_key_in_the_offer_asks_again_once_then_the_callback() -> None:
    call = offered_call()
    call.finish()
    out = call.keys("7")
    assert of_type(out, Play)[0].media == (Prompt("invalid"), *OFFER[1:]), "the choice again, not the news"
    call.finish()
    out = call.keys("*")
    assert of_type(out, Play)[0].media == OFFER
    out = call.keys("9")
    assert "offer_no_choice" in records(out)
    assert of_type(out, CreateTicket) == [CreateTicket("caller_asked", None, needs_callback=True)]


def test_silence_in_the_offer_takes_the_callback() -> None:
    call = offered_call()
    out = call.finish()
    assert of_type(out, StartTimer), "the caller has time to choose"
    out = call.fire()
    assert "offer_no_choice" in records(out)
    assert of_type(out, Play)[0].media == (Prompt("queue_callback_taken"),)
    assert of_type(out, CreateTicket) == [CreateTicket("caller_asked", None, needs_callback=True)]


def test_hanging_up_during_the_offer_books_the_callback_all_the_same() -> None:
    call = offered_call()
    out = call.send(CallerHungUp())
    assert of_type(out, CreateTicket) == [CreateTicket("caller_asked", None, needs_callback=True)]
    assert call.flow.outcome is CallOutcome.CALLBACK_REQUESTED


def test_the_offer_understands_the_callers_words() -> None:
    call = offered_call(speech=True)
    call.finish()
    out = call.send(SpeechRecognized("je veux laisser un message", None, 0.0, ()))
    assert call.state() is CallState.MESSAGE
    call = offered_call(speech=True)
    call.finish()
    out = call.send(SpeechRecognized("oui rappelez-moi", None, 0.0, (), yes_no=True))
    assert of_type(out, CreateTicket) == [CreateTicket("caller_asked", None, needs_callback=True)]
    call = offered_call(speech=True)
    call.finish()
    out = call.send(SpeechRecognized("la piscine", None, 0.0, ()))
    assert call.state() is CallState.OFFER and of_type(out, Play)[0].media == (Prompt("no_match"), *OFFER[1:])


def test_a_queue_that_does_not_answer_in_time_means_the_offer() -> None:
    call = queued_call()
    out = call.fire()
    assert "queue_unavailable" in records(out)
    assert call.state() is CallState.OFFER and of_type(out, Play)[0].media == OFFER


def test_hanging_up_while_waiting_is_an_abandon() -> None:
    call = queued_call()
    call.send(QueueJoined(2, None))
    call.send(CallerHungUp())
    assert call.flow.outcome is CallOutcome.ABANDONED


def test_the_callers_words_go_with_them_to_the_queue() -> None:
    call = Call(queue_enabled=True, speech_enabled=True)
    call.start()
    call.finish()
    call.send(SpeechRecognized("euh ma poubelle", None, 0.1, ()))
    out = call.send(SpeechRecognized("je veux parler à quelqu'un", None, 0.0, (), wants_human=True))
    assert of_type(out, JoinQueue) == [JoinQueue("caller_asked", None, "euh ma poubelle | je veux parler à quelqu'un")]


def test_a_caller_who_says_they_are_vulnerable_is_marked_so_for_the_queue() -> None:
    call = Call(queue_enabled=True, speech_enabled=True)
    call.start()
    call.finish()
    call.send(SpeechRecognized("je suis une personne âgée et je n'ai plus d'eau", None, 0.1, ()))
    out = call.send(SpeechRecognized("un conseiller", None, 0.0, (), wants_human=True))
    [join] = of_type(out, JoinQueue)
    assert join.vulnerable and join.transcript.startswith("je suis une personne âgée")


def test_pressing_1_in_the_queue_leaves_it_for_a_callback_with_the_dossier_number() -> None:
    call = queued_call()
    call.send(QueueJoined(4, None))
    call.send(TicketCreated("12345678"))  # the queued call's ticket
    out = call.keys("1")  # during the announcement: the key acts at once
    assert of_type(out, LeaveQueue) == [LeaveQueue()]
    assert of_type(out, Play)[0].media == (Prompt("queue_callback_taken"),)
    assert of_type(out, CreateTicket) == [CreateTicket("caller_asked", None, needs_callback=True)]
    assert call.state() is CallState.HUMAN
    call.send(TicketCreated("12345678"))  # the same ticket, now flagged for a callback
    assert call.flow.outcome is CallOutcome.CALLBACK_REQUESTED
    out = call.finish()
    assert of_type(out, Play)[0].media == (Prompt("your_dossier_is"), Digits("12345678"), Prompt("goodbye"))
    assert call.state() is CallState.GOODBYE


def connected_call() -> Call:
    call = queued_call()
    call.send(QueueJoined(1, None))
    call.finish()
    call.send(AgentConnected("alice"))
    assert call.state() is CallState.CONNECTED
    return call


def test_a_transfer_to_another_agent_puts_the_caller_back_in_the_queue() -> None:
    call = connected_call()
    out = call.send(Transferred(to_queue=True))
    assert call.state() is CallState.QUEUED
    assert of_type(out, Play)[0].media == (Prompt("transfer_to_agent"),)
    assert "transferred" in records(out)
    call.finish()
    out = call.send(AgentConnected("bob"))
    assert call.state() is CallState.CONNECTED


def test_a_transfer_to_a_service_then_its_failure() -> None:
    call = connected_call()
    out = call.send(Transferred(to_queue=False))
    assert call.state() is CallState.CONNECTED and of_type(out, Play)[0].media == (Prompt("transfer_to_service"),)
    call.finish()
    out = call.send(Transferred(to_queue=True, service_failed=True))
    assert call.state() is CallState.QUEUED and of_type(out, Play)[0].media == (Prompt("transfer_failed"),)


def test_a_transfer_outside_a_conversation_is_ignored() -> None:
    call = queued_call()
    assert call.send(Transferred(to_queue=True)) == []


def test_pressing_2_in_the_queue_records_a_message_kept_on_the_ticket() -> None:
    call = queued_call()
    call.send(QueueJoined(2, None))
    call.send(TicketCreated("12345678"))  # the queued call's ticket
    out = call.keys("2")
    assert of_type(out, LeaveQueue) == [LeaveQueue()]
    assert of_type(out, Play)[0].media == (Prompt("message_intro"),)
    assert call.state() is CallState.MESSAGE
    assert call.keys("5") == [], "keys during the intro do nothing"
    out = call.finish()  # the intro ends: the beep and the recording
    assert of_type(out, RecordMessage) == [RecordMessage(MESSAGE_MAX_S)]
    out = call.send(MessageRecorded("hotline-message-1", 7.5))
    assert of_type(out, Play)[0].media == (Prompt("message_kept"),)
    assert of_type(out, CreateTicket) == [
        CreateTicket("caller_asked", None, needs_callback=False, message="hotline-message-1", message_s=7.5)
    ]
    call.finish()
    out = call.send(TicketCreated("12345678"))
    assert of_type(out, Play)[0].media[0] == Prompt("your_dossier_is")
    assert call.flow.outcome is CallOutcome.CALLBACK_REQUESTED


def test_a_message_that_could_not_be_recorded_becomes_a_callback() -> None:
    call = queued_call()
    call.send(QueueJoined(2, None))
    call.keys("2")
    call.finish()
    out = call.send(MessageRecorded(None))
    assert of_type(out, Play)[0].media == (Prompt("queue_callback_taken"),)
    assert of_type(out, CreateTicket) == [CreateTicket("caller_asked", None, needs_callback=True)]


def test_a_recording_that_never_reports_back_becomes_a_callback() -> None:
    call = queued_call()
    call.send(QueueJoined(2, None))
    call.keys("2")
    call.finish()
    out = call.fire()
    assert of_type(out, CreateTicket) == [CreateTicket("caller_asked", None, needs_callback=True)]
