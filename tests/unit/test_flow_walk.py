"""Random calls (seeded, so repeatable) through the flow, checking what must hold whatever the caller does."""

from __future__ import annotations

import random

import pytest

from hotline.domain.dossier import new_dossier_number
from hotline.domain.enums import CallOutcome, TicketStatus
from ivr.flow.call_flow import CallState
from ivr.flow.commands import (
    CancelTimer,
    Command,
    CreateTicket,
    FaqAnswer,
    Hangup,
    JoinQueue,
    LeaveQueue,
    LookupTicket,
    Play,
    Prompt,
    RecordMessage,
    Say,
    SetOutcome,
    StartTimer,
    StopPlayback,
)
from ivr.flow.events import (
    AgentConnected,
    CallerHungUp,
    CallResumed,
    DtmfReceived,
    Event,
    MessageRecorded,
    PlaybackFinished,
    QueueAnnouncement,
    QueueCallbackOffered,
    QueueJoined,
    QueueUnavailable,
    SpeechRecognized,
    SpeechStarted,
    TicketCreated,
    TicketLookedUp,
    TimerFired,
    Transferred,
)
from ivr.flow.prompts import PROMPT_TEXTS
from tests.unit.test_flow import ACTIONS, CRISIS, Call

CALLS = 1000
MAX_EVENTS = 150
STATE_PREFIXES = {state.value for state in CallState}
FAQ_IDS = [*ACTIONS, None, "inconnu.entree"]
REFERRAL_SAYS = "Adressez-vous à votre banque."


class Walk:
    """One random call, with the bookkeeping an adapter does and the invariants checked on every command."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.resumed = seed % 10 == 7  # a call adopted after a crash of the app starts at the apology
        self.call = Call(
            crisis_message=CRISIS if seed % 3 == 0 else None, speech_enabled=seed % 2 == 0, queue_enabled=seed % 4 < 2
        )
        self.pending_joins = 0
        self.queued = False
        self.left_queue = False
        self.ended = False
        self.play_ids: list[str] = []
        self.timer_names: set[str] = set()
        self.pending_lookups: list[str] = []
        self.pending_creates = 0
        self.recording = False  # a RecordMessage awaits its MessageRecorded
        self.tickets = 0
        self.outcome: CallOutcome | None = None
        self.prompt_keys: set[str] = set()
        self._before: tuple[str | None, str | None] = (None, None)

    def check(self, commands: list[Command]) -> None:
        if self.ended:
            assert commands == [], "a command after the end of the call"
        playing, timer = self._before
        for command in commands:
            match command:
                case Play(playback_id=playback_id, media=media):
                    assert playing is None, f"{playback_id} started over {playing} without a StopPlayback"
                    assert playback_id not in self.play_ids
                    assert playback_id.rsplit("-", 1)[0] in STATE_PREFIXES
                    self.play_ids.append(playback_id)
                    playing = playback_id
                    for item in media:
                        match item:
                            case Prompt(key=key):
                                assert key in PROMPT_TEXTS, key
                                self.prompt_keys.add(key)
                            case Say(text=text):
                                assert text in (CRISIS, "Vous voulez parler de : un sujet ?", REFERRAL_SAYS) or (
                                    text.startswith("Vous êtes le")
                                ), text
                            case FaqAnswer(faq_id=faq_id):
                                assert faq_id in ACTIONS
                            case _:
                                pass
                case StopPlayback(playback_id=playback_id):
                    assert playback_id == playing
                    playing = None
                case StartTimer(name=name):
                    assert timer is None, f"{name} started while {timer} runs"
                    assert name not in self.timer_names
                    self.timer_names.add(name)
                    timer = name
                case CancelTimer(name=name):
                    assert name == timer
                    timer = None
                case LookupTicket(dossier=dossier):
                    self.pending_lookups.append(dossier)
                case JoinQueue():
                    self.pending_joins += 1
                    assert self.pending_joins == 1, "one JoinQueue per call"
                case LeaveQueue():
                    self.left_queue = True
                case RecordMessage():
                    self.recording = True
                case CreateTicket():
                    self.tickets += 1
                    self.pending_creates += 1
                    # one ticket per call; leaving the queue for a callback flags the same ticket (asked again)
                    assert self.tickets == 1 or (self.tickets == 2 and self.left_queue), "a second ticket"
                case SetOutcome(outcome=outcome):
                    self.outcome = outcome
                case Hangup():
                    assert self.outcome not in (None, CallOutcome.IN_PROGRESS)
                    self.ended = True
                case _:
                    pass

    def send(self, event: Event) -> None:
        # What the adapter knows ended with this event.
        if isinstance(event, PlaybackFinished) and event.playback_id == self.call.playing:
            self.call.playing = None
        if isinstance(event, TimerFired) and event.name == self.call.timer:
            self.call.timer = None
        self._before = (self.call.playing, self.call.timer)
        self.check(self.call.send(event))
        if isinstance(event, CallerHungUp) and not self.ended:
            assert self.outcome not in (None, CallOutcome.IN_PROGRESS)
            self.ended = True
        if not self.ended:
            assert self.call.state() is not CallState.ENDED
            # Liveness: something plays or a timer runs, so the caller is never left in silence for good (in the
            # queue the holding bridge's music plays, and with an agent the caller talks).
            if self.call.state() not in (CallState.QUEUED, CallState.CONNECTED):
                assert self.call.playing is not None or self.call.timer is not None, self.call.state()

    def step(self) -> None:
        rng, call = self.rng, self.call
        options: list[tuple[float, list[Event]]] = [
            (5, [DtmfReceived(rng.choice("0123456789*#"))]),
            (
                6 if call.state() is CallState.DOSSIER_ENTRY else 1,
                [DtmfReceived(key) for key in new_dossier_number(rng) + "#"],
            ),
            (1, [PlaybackFinished(rng.choice(self.play_ids))] if self.play_ids else []),
            (1, [SpeechRecognized("…", rng.choice(FAQ_IDS), rng.random(), ())]),
            (1, [SpeechStarted()]),
            (
                1,
                [
                    SpeechRecognized(
                        rng.choice(["", "euh", "oui", "non", "un conseiller"]),
                        None,
                        rng.random() * 0.3,
                        (),
                        suggestion=rng.choice([None, *FAQ_IDS]),
                        suggestion_title="un sujet",
                        yes_no=rng.choice([None, True, False]),
                        wants_human=rng.random() < 0.2,
                    )
                ],
            ),
            (
                0.5,
                [
                    SpeechRecognized(
                        "ma carte bancaire est bloquée",
                        None,
                        rng.random() * 0.6,
                        (),
                        out_of_scope=True,
                        **rng.choice([{}, {"referral": "bank-insurer", "referral_says": REFERRAL_SAYS}]),
                    )
                ],
            ),
            (0.3, [CallerHungUp()]),
        ]
        if call.playing is not None:
            options.append((6, [PlaybackFinished(call.playing)]))
        if call.timer is not None:
            options.append((3, [TimerFired(call.timer)]))
        if self.pending_lookups:
            dossier = self.pending_lookups[0]
            found = rng.random() < 0.6
            status = rng.choice([*TicketStatus, None]) if found else None
            options.append((8, [TicketLookedUp(dossier, found, status, None)]))
        if self.pending_creates:
            options.append((4, [TicketCreated(new_dossier_number(rng))]))
        if self.pending_joins == 1 and not self.queued:
            position = rng.randint(1, 12)
            options.append((4, [QueueJoined(position, rng.choice([None, 1, 4]))]))
            options.append((2, [QueueUnavailable()]))
        if call.state() is CallState.QUEUED:
            options.append((3, [QueueAnnouncement(rng.randint(1, 12), rng.choice([None, 2]))]))
            options.append((2, [AgentConnected("alice")]))
            options.append((1, [QueueCallbackOffered()]))
        if self.recording:
            options.append((4, [MessageRecorded(rng.choice(["hotline-message-x", None]), 6.0)]))
        if call.state() is CallState.CONNECTED:  # the agent passes the caller on
            options.append((1, [Transferred(to_queue=True)]))
            options.append((1, [Transferred(to_queue=False)]))
            options.append((1, [Transferred(to_queue=True, service_failed=True)]))
        weights = [weight for weight, events in options if events]
        choices = [events for _, events in options if events]
        events = rng.choices(choices, weights)[0]
        if isinstance(events[0], MessageRecorded):
            self.recording = False
        if isinstance(events[0], TicketCreated):
            self.pending_creates -= 1
        if isinstance(events[0], TicketLookedUp):
            self.pending_lookups.pop(0)
        if isinstance(events[0], (QueueJoined, QueueUnavailable)):
            self.queued = True
        for event in events:
            self.send(event)

    def run(self) -> None:
        self._before = (None, None)
        self.check(self.call.send(CallResumed()) if self.resumed else self.call.start())
        for _ in range(MAX_EVENTS):
            if self.ended:
                break
            self.step()


def test_random_calls_keep_every_invariant() -> None:
    seen_prompts: set[str] = set()
    ends: dict[CallOutcome | None, int] = {}
    for seed in range(CALLS):
        walk = Walk(seed)
        try:
            walk.run()
        except AssertionError as exc:
            pytest.fail(f"seed {seed}: {exc}\n{walk.call.history}")
        seen_prompts |= walk.prompt_keys
        ends[walk.outcome] = ends.get(walk.outcome, 0) + 1
    # The walks reach every prompt of the catalog and every outcome the flow can set.
    assert seen_prompts == set(PROMPT_TEXTS)
    assert set(ends) >= {
        CallOutcome.SELF_SERVED,
        CallOutcome.CALLBACK_REQUESTED,
        CallOutcome.ABANDONED,
        CallOutcome.FALLBACK,
        CallOutcome.TO_AGENT,
    }
