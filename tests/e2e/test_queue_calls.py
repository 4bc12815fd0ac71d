"""The agents' queue for real: `hotline serve` on the real Asterisk, agents added with `hotline agent add`, their
phones (sipp UAS, registered with digest auth) answering, callers (sipp UAC) pressing 0.

Checked: what the caller hears (the queue's announcement, then the agent), what the agent's phone hears, the
queue's rows and the agents' states in the database, and that no channel or bridge is left.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright
from sqlmodel import col, select

from hotline.domain.enums import AgentState, CallbackState, CallOutcome, QueueEntryState, TicketStatus
from hotline.storage.db import make_engine, session_scope
from hotline.storage.models import (
    Agent,
    AgentStateChange,
    AuditLog,
    Call,
    Callback,
    CallbackAttempt,
    CallEvent,
    QueueEntry,
    Ticket,
    TicketNote,
)
from ivr.flow import commands as cmd
from ivr.flow.prompts import queue_position_text
from tests.browser.conftest import CHROMIUM, sign_in_console
from tests.e2e.conftest import E2E_AGENT_WEB_PASSWORD, AgentAccount, AsteriskSandbox, add_agent, disable_agent
from tests.e2e.hotline_proc import HotlineProcess, start_hotline
from tests.e2e.prompt_audio import play_audio
from tests.e2e.sip.agent import AgentPhone
from tests.e2e.sip.audio import find_in, read_wav, tone_seconds
from tests.e2e.sip.caller import CallResult, place_call
from tests.e2e.sip.pcap import Dtmf, Silence, Tone
from tests.e2e.sip.ports import release_block, reserve_block
from tests.e2e.sip.sipp import read_messages

pytestmark = pytest.mark.e2e

WRAP_UP_S = 2  # short, so the test sees the agent available again
RING_TIMEOUT_S = 5  # the smallest the setting allows
CALLER_TONE_HZ = 700.0
AGENT_TONE_HZ = 1000.0
OTHER_TONE_HZ = 1300.0  # the second agent, or the city service a caller is transferred to
SERVICE_TONE_HZ = 1700.0  # the service, after an attended transfer joined it to the caller
MIN_TONE_S = 3.0  # of the 6 s each side sends
CHOOSE_MS = 1500  # 0 pressed during the welcome
CALLBACK_ATTEMPTS = 2
CALLBACK_RETRY_S = 10  # the smallest the setting allows


@pytest.fixture(scope="module")
def carrier_port() -> Iterator[int]:
    """Where the citizens called back answer: the carrier trunk's address is 127.0.0.1 and this port."""
    port = reserve_block(1, align=1)
    yield port
    release_block(port, 1)


@pytest.fixture(scope="module")
def queue_hotline(
    asterisk: AsteriskSandbox, tmp_path_factory: pytest.TempPathFactory, carrier_port: int
) -> Iterator[HotlineProcess]:
    workdir = tmp_path_factory.mktemp("queue-hotline")
    proc = start_hotline(
        asterisk.env,
        workdir,
        HOTLINE_AGENT_WRAP_UP_S=str(WRAP_UP_S),
        HOTLINE_AGENT_RING_TIMEOUT_S=str(RING_TIMEOUT_S),
        HOTLINE_CARRIER_TRUNK=f"127.0.0.1:{carrier_port}",
        HOTLINE_CALLBACK_HOURS="mon-sun 00:00-24:00",
        HOTLINE_CALLBACK_ATTEMPTS=str(CALLBACK_ATTEMPTS),
        HOTLINE_CALLBACK_RETRY_S=str(CALLBACK_RETRY_S),
        HOTLINE_CALLBACK_RING_TIMEOUT_S=str(RING_TIMEOUT_S),
    )
    try:
        proc.wait_ari(connected=True)
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def queue_agents(asterisk: AsteriskSandbox, queue_hotline: HotlineProcess) -> Iterator[dict[str, AgentAccount]]:
    """Two agents in the serving hotline's database, their phones pushed to Asterisk; disabled at the end."""
    env = {**asterisk.env, "HOTLINE_DATABASE_URL": queue_hotline.database_url}
    accounts = {
        "alice": add_agent(env, "e2e-queue-alice", "--skills", "eau"),
        "bob": add_agent(env, "e2e-queue-bob"),
    }
    yield accounts
    for account in accounts.values():
        disable_agent(env, account.login)


@pytest.fixture
def queue_agent(queue_agents: dict[str, AgentAccount]) -> AgentAccount:
    return queue_agents["alice"]


class Api:
    """The agent's side of the JSON API, as the console will use it."""

    def __init__(self, base_url: str, login: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=10)
        r = self.client.post("/api/session", json={"login": login, "password": E2E_AGENT_WEB_PASSWORD})
        r.raise_for_status()
        self.csrf = {"X-CSRF-Token": r.json()["csrf_token"]}

    def state(self, state: str, reason: str | None = None) -> dict[str, Any]:
        body = {"state": state, **({"reason": reason} if reason else {})}
        r = self.client.put("/api/agents/me/state", json=body, headers=self.csrf)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    def me(self) -> dict[str, Any]:
        result: dict[str, Any] = self.client.get("/api/agents/me").json()
        return result

    def wait_available(self, what: str = "available after the wrap-up") -> None:
        wait_for(what, lambda: self.me()["state"] == "available", timeout=WRAP_UP_S + 10)

    def close(self) -> None:
        self.client.close()

    def sign_off(self) -> None:
        """Offline (no call is offered to this agent any more), then the HTTP client closed."""
        self.state("offline")
        self.close()


def rows(proc: HotlineProcess, query: Any) -> list[Any]:
    engine = make_engine(proc.database_url)
    try:
        with session_scope(engine, write=False) as s:
            found = list(s.exec(query).all())
            for row in found:
                s.expunge(row)
            return found
    finally:
        engine.dispose()


def wait_for(what: str, check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def call_in_background(
    results: dict[str, CallResult],
    name: str,
    asterisk: AsteriskSandbox,
    number: str,
    steps: list[Any],
    hold_ms: int,
    workdir: Path,
) -> threading.Thread:
    """A caller's call in its own thread (the test acts meanwhile); its result lands in `results[name]`."""

    def run() -> None:
        results[name] = place_call(steps, from_user=number, hold_ms=hold_ms, target=asterisk.target, workdir=workdir)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def assert_nothing_left(asterisk: AsteriskSandbox) -> None:
    assert asterisk.wait_no_channels() == [], "channels left behind"
    with asterisk.ari() as ari:
        assert wait_for("no bridge", lambda: ari.get("/bridges").json() == [] or None) is True


def test_a_caller_waits_hears_the_position_then_talks_with_the_agent(
    tmp_path: Path, asterisk: AsteriskSandbox, queue_hotline: HotlineProcess, queue_agent: AgentAccount
) -> None:
    api = Api(queue_hotline.base_url, queue_agent.login)
    api.state("paused", "réunion")  # logged in but not free: the caller waits
    caller = "0622000001"
    phone = AgentPhone(
        queue_agent.login, queue_agent.sip_password, talk=[Silence(500), Tone(AGENT_TONE_HZ, 6000)], hold_ms=9000,
        target=asterisk.target, workdir=tmp_path / "agent",
    )  # fmt: skip
    result: dict[str, CallResult] = {}
    announcement = play_audio(
        asterisk, cmd.Prompt("queue_joined"), cmd.Say(queue_position_text(1, None)), cmd.Prompt("queue_callback_key")
    )
    with phone:
        steps = [Silence(CHOOSE_MS), Dtmf("0"), Silence(14_000), Tone(CALLER_TONE_HZ, 12_000)]
        thread = call_in_background(result, "call", asterisk, caller, steps, 40_000, tmp_path / "caller")
        waiting = wait_for("the caller in the queue", lambda: rows(
            queue_hotline, select(QueueEntry).where(QueueEntry.caller_phone == caller)), timeout=20)  # fmt: skip
        assert waiting[0].state is QueueEntryState.WAITING and waiting[0].reason == "caller_asked"
        time.sleep(len(announcement) / 8000 + 1)  # the caller hears the whole announcement, then music
        api.state("available")
        wait_for("the agent on the call", lambda: api.me()["state"] == "on_call", timeout=20)
        me = api.me()
        assert me["call"] is not None and me["call"]["caller_phone"] == caller, me
        phone.wait_call(30)
        thread.join(60)
    agent_result = phone.stop()
    call = result["call"]

    # The caller: the announcement in full, then the agent's voice; the agent: the caller's.
    at, score = find_in(call.samples, announcement)
    caller_heard_agent = tone_seconds(call.samples, AGENT_TONE_HZ)
    agent_heard_caller = tone_seconds(agent_result.samples, CALLER_TONE_HZ)
    print(
        f"[e2e figures] queue: announcement at {at:.1f} s (match {score:.3f}); caller heard the agent "
        f"{caller_heard_agent:.1f} s, the agent heard the caller {agent_heard_caller:.1f} s"
    )
    assert call.answered, call.describe()
    assert score >= 0.9, f"the position announcement: match {score:.3f}"
    assert agent_result.calls_answered == 1, agent_result
    assert caller_heard_agent >= MIN_TONE_S, call.describe()
    assert agent_heard_caller >= MIN_TONE_S, agent_result
    assert agent_result.hung_up_by == "agent" and call.hung_up_by == "asterisk"

    [entry] = rows(queue_hotline, select(QueueEntry).where(QueueEntry.caller_phone == caller))
    [agent] = rows(queue_hotline, select(Agent).where(Agent.login == queue_agent.login))
    assert entry.state is QueueEntryState.ANSWERED and entry.answered_by_agent_id == agent.id
    assert entry.answered_at is not None and (entry.answered_at - entry.enqueued_at).total_seconds() >= 5
    [row] = wait_for("the call closed", lambda: [c for c in rows(
        queue_hotline, select(Call).where(Call.caller_number == caller)) if c.ended_at])  # fmt: skip
    assert row.outcome is CallOutcome.TO_AGENT
    [ticket] = rows(queue_hotline, select(Ticket).where(Ticket.call_id == row.id))
    notes = [n.body for n in rows(queue_hotline, select(TicketNote).where(TicketNote.ticket_id == ticket.id))]
    assert any(n.startswith(f"Appel pris par Agent {queue_agent.login} après") for n in notes), notes
    assert any(n.startswith("Conversation avec un conseiller terminée") for n in notes), notes
    kinds = [e.kind for e in rows(queue_hotline, select(CallEvent).where(CallEvent.call_id == row.id))]
    for kind in ("to_human", "queue_joined", "queue_entry", "agent_offered", "agent_connected"):
        assert kind in kinds, (kind, kinds)
    # After the call: wrap-up, then available by itself.
    api.wait_available()
    changes = [
        c.to_state
        for c in rows(
            queue_hotline,
            select(AgentStateChange).where(AgentStateChange.agent_id == agent.id).order_by(col(AgentStateChange.id)),
        )
    ]
    tail = changes[changes.index(AgentState.RINGING) :]
    assert tail == [AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.AVAILABLE], changes
    api.sign_off()
    assert_nothing_left(asterisk)


def test_a_caller_who_hangs_up_while_waiting_is_abandoned(
    tmp_path: Path, asterisk: AsteriskSandbox, queue_hotline: HotlineProcess, queue_agent: AgentAccount
) -> None:
    api = Api(queue_hotline.base_url, queue_agent.login)
    api.state("paused", "pause")
    caller = "0622000002"
    call = place_call([Silence(CHOOSE_MS), Dtmf("0"), Silence(8000)], from_user=caller, target=asterisk.target,
                      workdir=tmp_path / "caller")  # fmt: skip
    assert call.answered and call.hung_up_by == "caller", call.describe()
    [entry] = wait_for("the entry closed", lambda: [e for e in rows(
        queue_hotline, select(QueueEntry).where(QueueEntry.caller_phone == caller)) if e.left_at])  # fmt: skip
    assert entry.state is QueueEntryState.ABANDONED
    waited = (entry.left_at - entry.enqueued_at).total_seconds()
    assert 3 < waited < 12, waited
    [row] = wait_for("the call closed", lambda: [c for c in rows(
        queue_hotline, select(Call).where(Call.caller_number == caller)) if c.ended_at])  # fmt: skip
    assert row.outcome is CallOutcome.ABANDONED
    [ticket] = rows(queue_hotline, select(Ticket).where(Ticket.call_id == row.id))
    notes = [n.body for n in rows(queue_hotline, select(TicketNote).where(TicketNote.ticket_id == ticket.id))]
    assert any(n.startswith("L'appelant a raccroché après") for n in notes), notes
    assert api.me()["state"] == "paused", "nobody was offered the call"
    api.sign_off()
    assert_nothing_left(asterisk)


def test_an_unanswered_phone_pauses_its_agent_and_the_next_agent_gets_the_caller(
    tmp_path: Path, asterisk: AsteriskSandbox, queue_hotline: HotlineProcess, queue_agents: dict[str, AgentAccount]
) -> None:
    """Bob has been idle longest, so his phone rings first; it does not answer within the ring timeout: Bob is
    paused "appel manqué", the caller keeps their place, and Alice's phone rings and answers."""
    alice, bob = queue_agents["alice"], queue_agents["bob"]
    bob_api, alice_api = Api(queue_hotline.base_url, bob.login), Api(queue_hotline.base_url, alice.login)
    bob_api.state("available")
    time.sleep(1.2)  # Bob's idle time starts first
    alice_api.state("available")
    caller = "0622000003"
    silent_bob = AgentPhone(
        bob.login, bob.sip_password, answer_after_ms=(RING_TIMEOUT_S + 10) * 1000, target=asterisk.target,
        workdir=tmp_path / "bob",
    )  # fmt: skip
    answering_alice = AgentPhone(
        alice.login, alice.sip_password, talk=[Silence(500), Tone(AGENT_TONE_HZ, 5000)], hold_ms=7000,
        target=asterisk.target, workdir=tmp_path / "alice",
    )  # fmt: skip
    with silent_bob, answering_alice:
        steps = [Silence(CHOOSE_MS), Dtmf("0"), Tone(CALLER_TONE_HZ, 20_000)]
        call = place_call(steps, from_user=caller, hold_ms=30_000, target=asterisk.target, workdir=tmp_path / "c")
        answering_alice.wait_call(10)
    bob_result, alice_result = silent_bob.stop(), answering_alice.stop()
    assert call.answered and call.hung_up_by == "asterisk", call.describe()
    assert bob_result.calls_answered == 0 and alice_result.calls_answered == 1
    assert tone_seconds(call.samples, AGENT_TONE_HZ) >= MIN_TONE_S, call.describe()
    bob_me = bob_api.me()
    assert (bob_me["state"], bob_me["reason"]) == ("paused", "appel manqué"), bob_me
    [entry] = rows(queue_hotline, select(QueueEntry).where(QueueEntry.caller_phone == caller))
    [alice_row] = rows(queue_hotline, select(Agent).where(Agent.login == alice.login))
    assert entry.state is QueueEntryState.ANSWERED and entry.answered_by_agent_id == alice_row.id
    waited = (entry.answered_at - entry.enqueued_at).total_seconds() if entry.answered_at else 0
    assert RING_TIMEOUT_S <= waited < RING_TIMEOUT_S + 8, waited
    [row] = wait_for("the call closed", lambda: [c for c in rows(
        queue_hotline, select(Call).where(Call.caller_number == caller)) if c.ended_at])  # fmt: skip
    steps_seen = [e.kind for e in rows(queue_hotline, select(CallEvent).where(CallEvent.call_id == row.id))]
    assert steps_seen.count("agent_offered") == 2 and "agent_missed" in steps_seen, steps_seen
    print(f"[e2e figures] ring timeout: Bob missed, Alice answered {waited:.1f} s after the caller joined")
    wait_for("Alice available again", lambda: alice_api.me()["state"] == "available", timeout=WRAP_UP_S + 5)
    for api in (alice_api, bob_api):
        api.sign_off()
    assert_nothing_left(asterisk)


def test_skills_hold_a_caller_for_the_right_agent_and_an_agent_can_take_a_given_caller(
    tmp_path: Path, asterisk: AsteriskSandbox, queue_hotline: HotlineProcess, queue_agents: dict[str, AgentAccount]
) -> None:
    """The caller asks for a person from the town hall's answer (topic "mairie"): Bob, available but without that
    skill, is not offered the call before the overflow delay; he takes it from the queue ("prendre cet appel"),
    his phone rings and he talks with the caller. A second take is refused (409)."""
    bob = queue_agents["bob"]
    api = Api(queue_hotline.base_url, bob.login)
    api.state("available")
    caller = "0622000004"
    phone = AgentPhone(
        bob.login, bob.sip_password, talk=[Silence(500), Tone(AGENT_TONE_HZ, 5000)], hold_ms=7000,
        target=asterisk.target, workdir=tmp_path / "bob",
    )  # fmt: skip
    result: dict[str, CallResult] = {}
    with phone:
        steps = [Silence(CHOOSE_MS), Dtmf("1"), Silence(2000), Dtmf("0"), Tone(CALLER_TONE_HZ, 25_000)]
        thread = call_in_background(result, "call", asterisk, caller, steps, 40_000, tmp_path / "caller")
        queued = wait_for("the caller in the queue", lambda: [
            r for r in api.client.get("/api/queue").json() if r["caller_phone"] == caller], timeout=20)  # fmt: skip
        assert queued[0]["topic"] == "mairie" and queued[0]["faq_id"] == "mairie.horaires", queued
        time.sleep(3)
        assert api.me()["state"] == "available", "no mairie skill: not offered before the overflow"
        assert [r["caller_phone"] for r in api.client.get("/api/queue").json()] == [caller]
        taken = api.client.post(f"/api/queue/{queued[0]['call_id']}/take", headers=api.csrf)
        assert taken.status_code == 200 and taken.json()["state"] == "offered", taken.text
        again = api.client.post(f"/api/queue/{queued[0]['call_id']}/take", headers=api.csrf)
        assert again.status_code == 409 and "prendre" in again.json()["detail"], again.text
        phone.wait_call(30)
        thread.join(60)
    bob_result = phone.stop()
    call = result["call"]
    assert bob_result.calls_answered == 1, bob_result
    assert tone_seconds(call.samples, AGENT_TONE_HZ) >= MIN_TONE_S, call.describe()
    assert tone_seconds(bob_result.samples, CALLER_TONE_HZ) >= MIN_TONE_S, bob_result
    [entry] = rows(queue_hotline, select(QueueEntry).where(QueueEntry.caller_phone == caller))
    assert entry.state is QueueEntryState.ANSWERED
    wait_for("Bob available again", lambda: api.me()["state"] == "available", timeout=WRAP_UP_S + 5)
    api.sign_off()
    assert_nothing_left(asterisk)


def test_the_console_in_a_browser_takes_a_real_call_and_resolves_its_ticket(
    tmp_path: Path, asterisk: AsteriskSandbox, queue_hotline: HotlineProcess, queue_agents: dict[str, AgentAccount]
) -> None:
    """Bob signs in to the console in chromium. A real caller asks for a person from the town hall's answer; the
    row appears on Bob's page by itself with the caller's topic; Bob clicks "Prendre cet appel": the screen pop
    says his phone rings, then, once his phone (sipp) answers, the call's ticket is on screen. He adds a note and
    marks it résolu during the call; after the call he is back to available by himself, and finds the ticket by
    its dossier number with the note, the call and its status."""
    bob = queue_agents["bob"]
    caller = "0622000041"
    phone = AgentPhone(
        bob.login, bob.sip_password, talk=[Silence(500), Tone(AGENT_TONE_HZ, 8000)], hold_ms=10_000,
        answer_after_ms=2500, target=asterisk.target, workdir=tmp_path / "bob",
    )  # fmt: skip
    result: dict[str, CallResult] = {}
    base = queue_hotline.base_url
    with sync_playwright() as p, phone:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 720}, locale="fr-FR").new_page()
        sign_in_console(page, base, bob.login, E2E_AGENT_WEB_PASSWORD)
        page.locator("#me").get_by_role("button", name="Disponible").click()
        expect(page.locator("#me h2")).to_contain_text("Mon état : disponible")
        page.evaluate("window.__notReloaded = true")

        steps = [Silence(CHOOSE_MS), Dtmf("1"), Silence(2000), Dtmf("0"), Tone(CALLER_TONE_HZ, 25_000)]
        thread = call_in_background(result, "call", asterisk, caller, steps, 30_000, tmp_path / "caller")
        row = page.locator("#queue tbody tr", has_text="06 22 00 00 41")
        expect(row).to_contain_text("Mairie", timeout=20_000)
        row.get_by_role("button", name="Prendre cet appel").click()
        pop = page.locator("#screen-pop")
        expect(pop).to_contain_text("Votre téléphone sonne : appel de 06 22 00 00 41", timeout=2000)
        expect(pop).to_contain_text("Réponse du serveur vocal")
        expect(pop).to_contain_text("En communication avec 06 22 00 00 41", timeout=10_000)
        panel = page.locator("#ticket-panel")
        expect(panel).to_contain_text("en cours")
        dossier = panel.locator("h4 a").inner_text()
        panel.get_by_label("Ajouter une note").fill("Horaires de la mairie donnés de vive voix.")
        panel.get_by_role("button", name="Ajouter la note").click()
        expect(page.locator("#flash")).to_have_text("Note ajoutée au dossier.")
        panel.get_by_role("button", name="Résolu").click()
        expect(panel.locator(".status")).to_have_text("résolu")
        page.screenshot(path=str(tmp_path / "console-real-call.png"), full_page=True)
        phone.wait_call(30)
        expect(page.locator("#me h2")).to_contain_text("Mon état : disponible", timeout=(WRAP_UP_S + 15) * 1000)
        assert page.evaluate("window.__notReloaded") is True, "all of it without a reload"
        thread.join(60)

        page.goto(f"{base}/tickets")
        page.fill("#q", f"{dossier[:4]} {dossier[4:]}")
        page.click("text=Chercher")
        expect(page).to_have_url(f"{base}/tickets/{dossier}")
        expect(page.locator(".facts")).to_contain_text("résolu")
        expect(page.locator(".notes")).to_contain_text("Horaires de la mairie donnés de vive voix.")
        expect(page.locator("main")).to_contain_text("passé à un conseiller")
        page.goto(f"{base}/console")
        page.locator("#me").get_by_role("button", name="Hors ligne").click()
        expect(page.locator("#me h2")).to_contain_text("hors ligne")
        browser.close()
    bob_result = phone.stop()
    assert bob_result.calls_answered == 1, bob_result
    assert tone_seconds(result["call"].samples, AGENT_TONE_HZ) >= MIN_TONE_S, result["call"].describe()
    [ticket] = rows(queue_hotline, select(Ticket).where(Ticket.dossier_number == dossier))
    assert ticket.status is TicketStatus.RESOLVED and ticket.caller_phone == caller
    assert_nothing_left(asterisk)


def test_two_agents_three_callers_priority_skills_and_longest_idle(
    tmp_path: Path, asterisk: AsteriskSandbox, queue_hotline: HotlineProcess, queue_agents: dict[str, AgentAccount]
) -> None:
    """Bob, then Alice (skill eau) become available: the first caller goes to Bob, idle longest. With Bob on
    that call and Alice paused, a second caller (key 0) and a third (key 4, the water cut, a crisis entry) wait;
    Alice, available again, gets the third (crisis first, and her skill); the second goes to whoever is free
    first after that (each phone answers up to two calls)."""
    alice, bob = queue_agents["alice"], queue_agents["bob"]
    alice_api, bob_api = Api(queue_hotline.base_url, alice.login), Api(queue_hotline.base_url, bob.login)
    for api in (alice_api, bob_api):
        api.state("paused", "pause")
    first, second, third = "0622000011", "0622000012", "0622000013"
    bob_phone = AgentPhone(bob.login, bob.sip_password, talk=[Silence(1000)], hold_ms=12_000, calls=2,
                           target=asterisk.target, workdir=tmp_path / "bob")  # fmt: skip
    alice_phone = AgentPhone(alice.login, alice.sip_password, talk=[Silence(1000)], hold_ms=4000, calls=2,
                             target=asterisk.target, workdir=tmp_path / "alice")  # fmt: skip
    results: dict[str, CallResult] = {}
    person = [Silence(CHOOSE_MS), Dtmf("0"), Silence(25_000)]
    crisis = [Silence(CHOOSE_MS), Dtmf("4"), Silence(25_000)]  # eau.coupure: a transfer to a person
    with bob_phone, alice_phone:
        bob_api.state("available")
        time.sleep(1.0)
        alice_api.state("available")  # both free: Bob has waited longer
        threads = [call_in_background(results, first, asterisk, first, person, 30_000, tmp_path / first)]
        wait_for("Bob on the first call", lambda: bob_api.me()["state"] == "on_call", timeout=20)
        assert alice_api.me()["state"] == "available", "the agent idle longest gets the caller"
        alice_api.state("paused", "pause")
        threads.append(call_in_background(results, second, asterisk, second, person, 30_000, tmp_path / second))
        wait_for("the second caller waiting", lambda: rows(queue_hotline, select(QueueEntry).where(
            QueueEntry.caller_phone == second)), timeout=20)  # fmt: skip
        threads.append(call_in_background(results, third, asterisk, third, crisis, 30_000, tmp_path / third))
        wait_for("the third caller waiting", lambda: rows(queue_hotline, select(QueueEntry).where(
            QueueEntry.caller_phone == third)), timeout=20)  # fmt: skip
        alice_api.state("available")
        for thread in threads:
            thread.join(60)
    bob_result, alice_result = bob_phone.stop(), alice_phone.stop()
    entries = {
        e.caller_phone: e
        for e in rows(queue_hotline, select(QueueEntry).where(col(QueueEntry.caller_phone).in_([first, second, third])))
    }
    agents = {a.id: a.login for a in rows(queue_hotline, select(Agent))}
    answered_by = {phone: agents.get(e.answered_by_agent_id or -1) for phone, e in entries.items()}
    print(f"[e2e figures] priority: answered by {answered_by}; priorities "
          f"{ {p: e.priority for p, e in entries.items()} }")  # fmt: skip
    assert entries[third].priority > entries[second].priority, "the crisis entry raises the priority"
    assert entries[third].topic == "eau" and entries[third].enqueued_at > entries[second].enqueued_at
    assert answered_by[first] == bob.login and answered_by[third] == alice.login, answered_by
    assert answered_by[second] in (alice.login, bob.login), answered_by
    third_at, second_at = entries[third].answered_at, entries[second].answered_at
    assert third_at is not None and second_at is not None and third_at < second_at, "crisis first"
    assert bob_result.calls_answered + alice_result.calls_answered == 3
    for phone in (first, second, third):
        assert results[phone].answered, results[phone].describe()
    for api in (alice_api, bob_api):
        api.wait_available()
        api.sign_off()
    assert_nothing_left(asterisk)


def transfer(api: Api, call_id: int, to: str) -> dict[str, Any]:
    r = api.client.post(f"/api/calls/{call_id}/transfer", json={"to": to}, headers=api.csrf)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def test_an_agent_transfers_the_caller_to_a_colleague(
    tmp_path: Path, asterisk: AsteriskSandbox, queue_hotline: HotlineProcess, queue_agents: dict[str, AgentAccount]
) -> None:
    """Alice answers, then passes the caller to Bob: the caller hears the transfer prompt, then Bob."""
    alice, bob = queue_agents["alice"], queue_agents["bob"]
    alice_api, bob_api = Api(queue_hotline.base_url, alice.login), Api(queue_hotline.base_url, bob.login)
    for api in (alice_api, bob_api):
        api.state("paused", "pause")
    caller = "0622000021"
    alice_phone = AgentPhone(alice.login, alice.sip_password, talk=[Silence(1000)], hold_ms=30_000,
                             target=asterisk.target, workdir=tmp_path / "alice")  # fmt: skip
    bob_phone = AgentPhone(bob.login, bob.sip_password, talk=[Silence(500), Tone(OTHER_TONE_HZ, 6000)], hold_ms=8000,
                           target=asterisk.target, workdir=tmp_path / "bob")  # fmt: skip
    results: dict[str, CallResult] = {}
    heard = play_audio(asterisk, cmd.Prompt("transfer_to_agent"))
    with alice_phone, bob_phone:
        alice_api.state("available")
        thread = call_in_background(results, caller, asterisk, caller, [Silence(CHOOSE_MS), Dtmf("0")], 45_000,
                                    tmp_path / "caller")  # fmt: skip
        wait_for("Alice on the call", lambda: alice_api.me()["state"] == "on_call", timeout=20)
        bob_api.state("available")  # after Alice took the caller: nobody waits for him
        call_id = alice_api.me()["call"]["call_id"]
        time.sleep(1.0)
        assert transfer(alice_api, call_id, f"agent:{bob.login}")["to"] == f"agent:{bob.login}"
        wait_for("Bob on the call", lambda: bob_api.me()["state"] == "on_call", timeout=20)
        assert alice_api.me()["state"] in ("wrap_up", "available")
        bob_phone.wait_call(30)
        thread.join(60)
    alice_phone.stop()
    call = results[caller]
    _, score = find_in(call.samples, heard)
    heard_bob = tone_seconds(call.samples, OTHER_TONE_HZ)
    print(f"[e2e figures] transfer to an agent: prompt match {score:.3f}, the caller heard Bob {heard_bob:.1f} s")
    assert score >= 0.9 and heard_bob >= MIN_TONE_S, call.describe()
    entries = rows(queue_hotline, select(QueueEntry).where(QueueEntry.call_id == call_id).order_by(col(QueueEntry.id)))
    ids = {a.login: a.id for a in rows(queue_hotline, select(Agent))}
    assert [(e.answered_by_agent_id, e.reason) for e in entries] == [(ids[alice.login], "caller_asked"),
                                                                      (ids[bob.login], "transfer")]  # fmt: skip
    assert entries[1].target_agent_id == ids[bob.login] and entries[1].priority > entries[0].priority
    [ticket] = rows(queue_hotline, select(Ticket).where(Ticket.call_id == call_id))
    notes = [n.body for n in rows(queue_hotline, select(TicketNote).where(TicketNote.ticket_id == ticket.id))]
    assert f"Transféré par Agent {alice.login} au conseiller Agent {bob.login}." in notes, notes
    for api in (alice_api, bob_api):
        api.wait_available()
        api.sign_off()
    assert_nothing_left(asterisk)


def test_an_agent_transfers_the_caller_to_a_city_service(
    tmp_path: Path,
    asterisk: AsteriskSandbox,
    queue_hotline: HotlineProcess,
    queue_agent: AgentAccount,
    carrier_port: int,
) -> None:
    """A blind transfer to a service's number on the carrier trunk: Alice leaves, the caller hears the service."""
    api = Api(queue_hotline.base_url, queue_agent.login)
    api.state("paused", "pause")
    caller, service_number = "0622000022", "0380000001"
    alice_phone = AgentPhone(queue_agent.login, queue_agent.sip_password, talk=[Silence(1000)], hold_ms=30_000,
                             target=asterisk.target, workdir=tmp_path / "alice")  # fmt: skip
    service = AgentPhone(service_number, "", talk=[Silence(500), Tone(OTHER_TONE_HZ, 6000)], hold_ms=8000,
                         target=asterisk.target, workdir=tmp_path / "service", sip_port=carrier_port,
                         registers=False)  # fmt: skip
    results: dict[str, CallResult] = {}
    with alice_phone, service:
        api.state("available")
        thread = call_in_background(results, caller, asterisk, caller, [Silence(CHOOSE_MS), Dtmf("0")], 45_000,
                                    tmp_path / "caller")  # fmt: skip
        wait_for("Alice on the call", lambda: api.me()["state"] == "on_call", timeout=20)
        call_id = api.me()["call"]["call_id"]
        time.sleep(1.0)
        transfer(api, call_id, f"number:{service_number}")
        service.wait_call(30)
        thread.join(60)
    alice_result, service_result = alice_phone.stop(), service.stop()
    call = results[caller]
    heard_service = tone_seconds(call.samples, OTHER_TONE_HZ)
    print(f"[e2e figures] transfer to a service: the caller heard the service {heard_service:.1f} s")
    assert service_result.calls_answered == 1 and heard_service >= MIN_TONE_S, call.describe()
    assert alice_result.hung_up_by == "asterisk", "the agent's leg ends at the transfer"
    assert call.hung_up_by == "asterisk", "the service's hang-up ends the caller's call"
    invites = [m for m in read_messages(service_result.workdir / "uas-messages.log") if m.method == "INVITE"]
    assert invites and f"sip:{service_number}@" in invites[0].text
    [ticket] = rows(queue_hotline, select(Ticket).where(Ticket.call_id == call_id))
    notes = [n.body for n in rows(queue_hotline, select(TicketNote).where(TicketNote.ticket_id == ticket.id))]
    assert f"Transféré par Agent {queue_agent.login} au {service_number}." in notes and "Le service a répondu." in notes
    api.wait_available()
    api.sign_off()
    assert_nothing_left(asterisk)


def test_an_attended_transfer_to_a_city_service(
    tmp_path: Path,
    asterisk: AsteriskSandbox,
    queue_hotline: HotlineProcess,
    queue_agent: AgentAccount,
    carrier_port: int,
) -> None:
    """Alice calls the service with the caller on hold, speaks with it (the caller does not hear that), then
    joins them: the caller hears the service from then on."""
    api = Api(queue_hotline.base_url, queue_agent.login)
    api.state("paused", "pause")
    caller, service_number = "0622000023", "0380000002"
    alice_phone = AgentPhone(queue_agent.login, queue_agent.sip_password, talk=[Silence(1000)], hold_ms=40_000,
                             target=asterisk.target, workdir=tmp_path / "alice")  # fmt: skip
    service_talk = [Silence(500), Tone(OTHER_TONE_HZ, 3000), Silence(3000), Tone(SERVICE_TONE_HZ, 5000)]
    service = AgentPhone(service_number, "", talk=service_talk, hold_ms=13_000, target=asterisk.target,
                         workdir=tmp_path / "service", sip_port=carrier_port, registers=False)  # fmt: skip
    results: dict[str, CallResult] = {}
    with alice_phone, service:
        api.state("available")
        thread = call_in_background(results, caller, asterisk, caller, [Silence(CHOOSE_MS), Dtmf("0")], 60_000,
                                    tmp_path / "caller")  # fmt: skip
        wait_for("Alice on the call", lambda: api.me()["state"] == "on_call", timeout=20)
        call_id = api.me()["call"]["call_id"]
        time.sleep(1.0)
        r = api.client.post(f"/api/calls/{call_id}/transfer", json={"to": f"number:{service_number}",
                            "attended": True}, headers=api.csrf)  # fmt: skip
        assert r.status_code == 200 and r.json()["attended"] is True, r.text
        time.sleep(5.0)  # the service answered and said its first words to Alice only
        r = api.client.post(f"/api/calls/{call_id}/transfer/complete", headers=api.csrf)
        assert r.status_code == 204, r.text
        service.wait_call(30)
        thread.join(60)
    alice_result, service_result = alice_phone.stop(), service.stop()
    call = results[caller]
    alice_heard = tone_seconds(alice_result.samples, OTHER_TONE_HZ)
    caller_heard_consult = tone_seconds(call.samples, OTHER_TONE_HZ)
    caller_heard_service = tone_seconds(call.samples, SERVICE_TONE_HZ)
    print(f"[e2e figures] attended transfer: Alice heard the service {alice_heard:.1f} s, the caller "
          f"{caller_heard_consult:.1f} s of that and {caller_heard_service:.1f} s after the join")  # fmt: skip
    assert service_result.calls_answered == 1
    assert alice_heard >= 2.0 and caller_heard_consult < 0.5, "the consultation is between Alice and the service"
    assert caller_heard_service >= MIN_TONE_S, call.describe()
    assert alice_result.hung_up_by == "asterisk" and call.hung_up_by == "asterisk"
    [ticket] = rows(queue_hotline, select(Ticket).where(Ticket.call_id == call_id))
    notes = [n.body for n in rows(queue_hotline, select(TicketNote).where(TicketNote.ticket_id == ticket.id))]
    expected = f"Transféré par Agent {queue_agent.login} au {service_number}, après un échange avec le service."
    assert expected in notes, notes
    api.wait_available()
    api.sign_off()
    assert_nothing_left(asterisk)


def test_pressing_2_in_the_queue_leaves_a_message_kept_on_the_ticket(
    tmp_path: Path, asterisk: AsteriskSandbox, queue_hotline: HotlineProcess, queue_agent: AgentAccount
) -> None:
    """A caller who would rather not wait nor be called back records a message: it is kept, named on the ticket."""
    api = Api(queue_hotline.base_url, queue_agent.login)
    api.state("paused", "pause")
    caller = "0622000031"
    steps = [Silence(CHOOSE_MS), Dtmf("0"), Silence(3000), Dtmf("2"), Silence(8000), Tone(CALLER_TONE_HZ, 3000),
             Dtmf("#"), Silence(15_000)]  # fmt: skip
    call = place_call(steps, from_user=caller, hold_ms=40_000, target=asterisk.target, workdir=tmp_path / "caller")
    assert call.answered and call.hung_up_by == "asterisk", "the goodbye after the dossier number"
    kept = play_audio(asterisk, cmd.Prompt("message_kept"))
    _, score = find_in(call.samples, kept)
    [row] = wait_for("the call closed", lambda: [c for c in rows(
        queue_hotline, select(Call).where(Call.caller_number == caller)) if c.ended_at])  # fmt: skip
    [ticket] = rows(queue_hotline, select(Ticket).where(Ticket.call_id == row.id))
    notes = [n.body for n in rows(queue_hotline, select(TicketNote).where(TicketNote.ticket_id == ticket.id))]
    [said] = [n for n in notes if n.startswith("Message de l'appelant")]
    name = said.rsplit(" ", 1)[1].removesuffix(".wav.")
    assert asterisk.root is not None
    recording = asterisk.root / "var/spool/asterisk/recording" / f"{name}.wav"
    samples, _ = read_wav(recording)
    heard = tone_seconds(samples, CALLER_TONE_HZ)
    print(f"[e2e figures] message: '{said}', the recording holds {heard:.1f} s of the caller's 3 s tone; "
          f"'message enregistré' match {score:.3f}")  # fmt: skip
    assert score >= 0.9 and heard >= 2.0, (said, heard)
    assert not ticket.needs_callback, "a message instead of a callback"
    [entry] = rows(queue_hotline, select(QueueEntry).where(QueueEntry.caller_phone == caller))
    assert entry.state is QueueEntryState.CALLBACK and entry.left_at is not None
    heard_by_agent = api.client.get(f"/api/calls/{row.id}/message")
    assert heard_by_agent.status_code == 200 and heard_by_agent.content == recording.read_bytes(), "through ARI"
    recording.unlink()
    assert api.client.get(f"/api/calls/{row.id}/message").status_code == 404, "Asterisk no longer has it"
    api.sign_off()
    assert_nothing_left(asterisk)


def leave_for_callback(tmp_path: Path, asterisk: AsteriskSandbox, proc: HotlineProcess, caller: str) -> Callback:
    """The caller presses 0, waits, presses 1, hears that an adviser will call back, and is hung up on."""
    call = place_call(
        [Silence(CHOOSE_MS), Dtmf("0"), Silence(3000), Dtmf("1"), Silence(20_000)], from_user=caller,
        hold_ms=30_000, target=asterisk.target, workdir=tmp_path / f"caller-{caller}",
    )  # fmt: skip
    assert call.answered and call.hung_up_by == "asterisk", "the goodbye after the dossier number"
    taken = play_audio(asterisk, cmd.Prompt("queue_callback_taken"))
    _, score = find_in(call.samples, taken)
    assert score >= 0.9, f"'un conseiller vous rappellera': match {score:.3f}"
    [entry] = rows(proc, select(QueueEntry).where(QueueEntry.caller_phone == caller))
    assert entry.state is QueueEntryState.CALLBACK and entry.left_at is not None
    [row] = wait_for("the call closed", lambda: [c for c in rows(
        proc, select(Call).where(Call.caller_number == caller)) if c.ended_at])  # fmt: skip
    assert row.outcome is CallOutcome.CALLBACK_REQUESTED
    [ticket] = rows(proc, select(Ticket).where(Ticket.call_id == row.id))
    assert ticket.needs_callback and ticket.status is TicketStatus.WAITING_CALLBACK, ticket
    [callback] = rows(proc, select(Callback).where(Callback.ticket_id == ticket.id))
    assert callback.state is CallbackState.PENDING and callback.phone == caller
    assert callback.place_at == entry.enqueued_at, "the callback keeps the caller's place"
    return callback


def test_a_callback_rings_the_agent_then_the_citizen_and_bridges_them(
    tmp_path: Path,
    asterisk: AsteriskSandbox,
    queue_hotline: HotlineProcess,
    queue_agent: AgentAccount,
    carrier_port: int,
) -> None:
    """Pressing 1 in the queue: the caller hangs up with a callback promised. When Alice is available, her phone
    rings with the caller's number, then the citizen's phone behind the carrier trunk; both hear each other."""
    api = Api(queue_hotline.base_url, queue_agent.login)
    api.state("paused", "formation")
    caller = "0622000005"
    callback = leave_for_callback(tmp_path, asterisk, queue_hotline, caller)
    agent_phone = AgentPhone(
        queue_agent.login, queue_agent.sip_password, talk=[Silence(1500), Tone(AGENT_TONE_HZ, 6000)],
        hold_ms=10_000, target=asterisk.target, workdir=tmp_path / "agent",
    )  # fmt: skip
    citizen_phone = AgentPhone(
        caller, "", talk=[Silence(500), Tone(CALLER_TONE_HZ, 6000)], hold_ms=30_000, target=asterisk.target,
        workdir=tmp_path / "citizen", sip_port=carrier_port, registers=False,
    )  # fmt: skip
    with agent_phone, citizen_phone:
        api.state("available")
        wait_for("the callback placed", lambda: rows(queue_hotline, select(Callback).where(
            Callback.id == callback.id, Callback.state == CallbackState.DONE)), timeout=20)  # fmt: skip
        agent_phone.wait_call(30)
        citizen_phone.wait_call(10)
    agent_result, citizen_result = agent_phone.stop(), citizen_phone.stop()
    agent_heard = tone_seconds(agent_result.samples, CALLER_TONE_HZ)
    citizen_heard = tone_seconds(citizen_result.samples, AGENT_TONE_HZ)
    print(f"[e2e figures] callback: the agent heard the citizen {agent_heard:.1f} s, the citizen the agent "
          f"{citizen_heard:.1f} s")  # fmt: skip
    assert agent_result.calls_answered == 1 and citizen_result.calls_answered == 1
    assert agent_heard >= MIN_TONE_S and citizen_heard >= MIN_TONE_S
    assert citizen_result.hung_up_by == "asterisk", "the agent's hang-up ends the citizen's leg"
    invites = [m for m in read_messages(agent_result.workdir / "uas-messages.log") if m.method == "INVITE"]
    assert invites and f"sip:{caller}@" in invites[0].text, "the agent's phone shows the citizen's number"
    [attempt] = rows(queue_hotline, select(CallbackAttempt).where(CallbackAttempt.callback_id == callback.id))
    assert attempt.result == "answered" and attempt.ended_at is not None
    notes = [n.body for n in rows(queue_hotline, select(TicketNote).where(TicketNote.ticket_id == callback.ticket_id))]
    assert any(n.startswith("Rappel, tentative 1 sur 2 par Agent") and "l'appelant a répondu" in n for n in notes)
    wait_for(
        "the callback conversation recorded",
        lambda: any(
            n.body.startswith("Conversation de rappel terminée")
            for n in rows(queue_hotline, select(TicketNote).where(TicketNote.ticket_id == callback.ticket_id))
        ),
    )
    api.wait_available()
    api.sign_off()
    assert_nothing_left(asterisk)


def test_a_callback_placed_from_the_console_list(
    tmp_path: Path,
    asterisk: AsteriskSandbox,
    queue_hotline: HotlineProcess,
    queue_agent: AgentAccount,
    carrier_port: int,
) -> None:
    """A callback booked for later is in Alice's console list; she clicks "Rappeler maintenant" in chromium: her
    sipp phone rings, then the citizen's behind the trunk, they talk, and the list says the citizen answered."""
    api = Api(queue_hotline.base_url, queue_agent.login)
    api.state("paused", "formation")
    callback = leave_for_callback(tmp_path, asterisk, queue_hotline, "0622000007")
    engine = make_engine(queue_hotline.database_url)
    try:
        with session_scope(engine) as s:
            booked = s.get(Callback, callback.id)
            assert booked is not None
            booked.due_at = booked.due_at + timedelta(hours=2)  # not due yet: only a click places it now
            s.add(booked)
    finally:
        engine.dispose()
    agent_phone = AgentPhone(
        queue_agent.login, queue_agent.sip_password, talk=[Silence(1500), Tone(AGENT_TONE_HZ, 5000)],
        hold_ms=8000, target=asterisk.target, workdir=tmp_path / "agent",
    )  # fmt: skip
    citizen_phone = AgentPhone(
        "0622000007", "", talk=[Silence(500), Tone(CALLER_TONE_HZ, 5000)], hold_ms=30_000, target=asterisk.target,
        workdir=tmp_path / "citizen", sip_port=carrier_port, registers=False,
    )  # fmt: skip
    base = queue_hotline.base_url
    with sync_playwright() as p, agent_phone, citizen_phone:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 720}, locale="fr-FR").new_page()
        sign_in_console(page, base, queue_agent.login, E2E_AGENT_WEB_PASSWORD)
        page.locator("#me").get_by_role("button", name="Disponible").click()
        expect(page.locator("#me h2")).to_contain_text("Mon état : disponible")
        row = page.locator(f'#callbacks tr[data-callback-id="{callback.id}"]')
        expect(row).to_contain_text("à rappeler")
        expect(row).to_contain_text("06 22 00 00 07")
        row.get_by_role("button", name="Rappeler maintenant").click()
        expect(page.locator("#flash")).to_have_text("Votre téléphone va sonner, puis celui de l'appelant.")
        expect(row).to_contain_text("l'appelant a répondu", timeout=20_000)
        agent_phone.wait_call(30)
        citizen_phone.wait_call(10)
        expect(row).to_contain_text("fait", timeout=10_000)
        page.locator("#me").get_by_role("button", name="Hors ligne").click(timeout=(WRAP_UP_S + 10) * 1000)
        browser.close()
    agent_result, citizen_result = agent_phone.stop(), citizen_phone.stop()
    assert agent_result.calls_answered == 1 and citizen_result.calls_answered == 1
    assert tone_seconds(citizen_result.samples, AGENT_TONE_HZ) >= MIN_TONE_S, "the citizen heard Alice"
    [attempt] = rows(queue_hotline, select(CallbackAttempt).where(CallbackAttempt.callback_id == callback.id))
    assert attempt.result == "answered"
    api.close()
    assert_nothing_left(asterisk)


def test_a_callback_nobody_answers_is_retried_then_failed(
    tmp_path: Path, asterisk: AsteriskSandbox, queue_hotline: HotlineProcess, queue_agent: AgentAccount
) -> None:
    """No citizen answers behind the trunk: two attempts (the setting), `callback_retry_s` apart, then failed."""
    api = Api(queue_hotline.base_url, queue_agent.login)
    api.state("paused", "formation")
    callback = leave_for_callback(tmp_path, asterisk, queue_hotline, "0622000006")
    phone = AgentPhone(
        queue_agent.login, queue_agent.sip_password, talk=[Silence(1000)], hold_ms=30_000, calls=CALLBACK_ATTEMPTS,
        target=asterisk.target, workdir=tmp_path / "agent",
    )  # fmt: skip
    with phone:
        api.state("available")
        started = time.monotonic()
        [failed] = wait_for("the callback failed", lambda: rows(queue_hotline, select(Callback).where(
            Callback.id == callback.id, Callback.state == CallbackState.FAILED)), timeout=60)  # fmt: skip
        took = time.monotonic() - started
        phone.wait_call(10)
    agent_result = phone.stop()
    attempts = rows(queue_hotline, select(CallbackAttempt).where(CallbackAttempt.callback_id == callback.id)
                    .order_by(col(CallbackAttempt.started_at)))  # fmt: skip
    results = [a.result for a in attempts]
    gap = (attempts[1].started_at - attempts[0].ended_at).total_seconds()
    print(f"[e2e figures] callback unanswered: {results}, failed {took:.1f} s after the agent was available, "
          f"{gap:.1f} s between attempts")  # fmt: skip
    assert failed.attempts == CALLBACK_ATTEMPTS and len(attempts) == CALLBACK_ATTEMPTS
    assert set(results) <= {"no_answer", "unreachable"}, results
    assert gap >= CALLBACK_RETRY_S - 1, gap
    assert agent_result.calls_answered == CALLBACK_ATTEMPTS
    notes = [n.body for n in rows(queue_hotline, select(TicketNote).where(TicketNote.ticket_id == callback.ticket_id))]
    assert notes[-1].endswith(f"Rappel abandonné après {CALLBACK_ATTEMPTS} tentatives."), notes
    [ticket] = rows(queue_hotline, select(Ticket).where(Ticket.id == callback.ticket_id))
    assert not ticket.needs_callback
    api.wait_available()
    api.sign_off()
    assert_nothing_left(asterisk)


SUPERVISOR_TONES_HZ = {"listen": 1300.0, "whisper": 1700.0, "barge": 2100.0}  # one per mode: who heard which
QUIET_DBFS, LOUD_DBFS = -20.0, -6.0  # the agent's steady tone under the caller's pulses; the supervisor's on top
SUPERVISOR_HOLD_MS = 4500  # the supervisor listens (whispers) this long, then hangs up
NOT_HEARD_S = 0.3


def test_a_supervisor_listens_whispers_then_joins_a_live_call_on_their_own_phone(
    tmp_path: Path, asterisk: AsteriskSandbox, queue_hotline: HotlineProcess, queue_agents: dict[str, AgentAccount]
) -> None:
    """Alice talks with a caller (the caller's tone in pulses, Alice's tone steady and quieter, so that each is
    heard alone half of the time). Sarah, a supervisor, uses her own phone three times on that call, each time
    with her own tone: listen (she hears both; neither hears her), whisper (Alice hears her, the caller does
    not), then barge (both hear her); she hangs up the first two, the third ends with the conversation."""
    alice = queue_agents["alice"]
    env = {**asterisk.env, "HOTLINE_DATABASE_URL": queue_hotline.database_url}
    sarah = add_agent(env, "e2e-queue-sarah", "--role", "supervisor")
    alice_api, sarah_api = Api(queue_hotline.base_url, alice.login), Api(queue_hotline.base_url, sarah.login)

    def supervise(mode: str) -> httpx.Response:
        url = f"/api/agents/{alice.login}/supervise"
        return sarah_api.client.post(url, json={"mode": mode}, headers=sarah_api.csrf)

    refused = supervise("listen")
    assert refused.status_code == 409, refused.text
    before = queue_hotline.metrics()
    assert refused.json()["detail"] == "Ce conseiller n'est pas en communication."
    alice_api.state("available")
    caller = "0622000061"
    alice_phone = AgentPhone(
        alice.login, alice.sip_password, talk=[Tone(AGENT_TONE_HZ, 30_000, QUIET_DBFS)], hold_ms=21_000,
        target=asterisk.target, workdir=tmp_path / "alice",
    )  # fmt: skip
    heard: dict[str, Any] = {}
    result: dict[str, CallResult] = {}
    with alice_phone:
        pulses = [Tone(CALLER_TONE_HZ, 1000, -10.0), Silence(1000)] * 16
        thread = call_in_background(result, "call", asterisk, caller, [Silence(CHOOSE_MS), Dtmf("0"), *pulses],
                                    45_000, tmp_path / "caller")  # fmt: skip
        wait_for("Alice on the call", lambda: alice_api.me()["state"] == "on_call", timeout=20)
        for mode, hz in SUPERVISOR_TONES_HZ.items():
            hold_ms = SUPERVISOR_HOLD_MS if mode != "barge" else 30_000  # barge: until the conversation ends
            phone = AgentPhone(
                sarah.login, sarah.sip_password, talk=[Tone(hz, 30_000, LOUD_DBFS)], hold_ms=hold_ms,
                target=asterisk.target, workdir=tmp_path / f"sarah-{mode}",
            )  # fmt: skip
            with phone:
                answer = supervise(mode)
                assert answer.status_code == 202, answer.text
                assert answer.json()["mode"] == mode and answer.json()["agent"] == alice.login
                heard[f"call_id_{mode}"] = answer.json()["call_id"]
                assert phone.wait_call(40), f"{mode}: the supervisor's call did not end"
            heard[mode] = phone.stop()
        alice_phone.wait_call(30)
        thread.join(60)
    alice_result = alice_phone.stop()
    call = result["call"]
    assert call.answered and alice_result.calls_answered == 1, call.describe()

    figures = {}
    for mode, hz in SUPERVISOR_TONES_HZ.items():
        sup = heard[mode]
        assert sup.calls_answered == 1, (mode, sup)
        figures[mode] = {
            "supervisor heard the caller": tone_seconds(sup.samples, CALLER_TONE_HZ),
            "supervisor heard the agent": tone_seconds(sup.samples, AGENT_TONE_HZ),
            "caller heard the supervisor": tone_seconds(call.samples, hz),
            "agent heard the supervisor": tone_seconds(alice_result.samples, hz),
        }
    print(f"[e2e figures] supervision (tone seconds): {figures}")
    listen, whisper, barge = figures["listen"], figures["whisper"], figures["barge"]
    assert listen["supervisor heard the caller"] >= 1.0 and listen["supervisor heard the agent"] >= 1.0, figures
    assert listen["caller heard the supervisor"] < NOT_HEARD_S, figures
    assert listen["agent heard the supervisor"] < NOT_HEARD_S, figures
    assert whisper["agent heard the supervisor"] >= 1.0, figures
    assert whisper["caller heard the supervisor"] < NOT_HEARD_S, figures
    assert barge["caller heard the supervisor"] >= 1.0 and barge["agent heard the supervisor"] >= 1.0, figures
    assert heard["listen"].hung_up_by == "agent" and heard["whisper"].hung_up_by == "agent"
    assert heard["barge"].hung_up_by == "asterisk", "the conversation ended: the supervisor's phone too"
    invite = next(m for m in read_messages(heard["listen"].workdir / "uas-messages.log") if m.method == "INVITE")
    assert f"Agent {alice.login}" in invite.text.split("From:", 1)[1].split("\n", 1)[0], invite.text

    audits = rows(queue_hotline, select(AuditLog).where(AuditLog.actor == sarah.login).order_by(col(AuditLog.id)))
    assert [(a.action, a.target) for a in audits] == [
        ("supervision.listen", alice.login), ("supervision.whisper", alice.login), ("supervision.barge", alice.login)
    ]  # fmt: skip
    assert {a.details["call_id"] for a in audits} == {heard["call_id_listen"]}
    alice_api.wait_available()
    # The call answered by an agent, in /metrics: offered to an agent, its wait, its talk and its wrap-up.
    wrap_ups = ("hotline_wrap_up_seconds_count", ())
    after = wait_for("the wrap-up counted", lambda: (m := queue_hotline.metrics())[wrap_ups] > before[wrap_ups] and m,
                     timeout=5)  # fmt: skip

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("hotline_calls_offered_total", outcome="to_agent") == 1
    assert grew("hotline_queue_wait_seconds_count", outcome="answered") == 1
    assert grew("hotline_talk_seconds_count") == 1 and grew("hotline_wrap_up_seconds_count") == 1
    assert grew("hotline_talk_seconds_sum") > 10  # the conversation lasted about 20 s
    for api in (alice_api, sarah_api):
        api.sign_off()
    disable_agent(env, sarah.login)
    assert_nothing_left(asterisk)


def test_a_restart_of_the_service_loses_no_waiting_caller_and_no_conversation(
    tmp_path: Path, asterisk: AsteriskSandbox
) -> None:
    """One caller talks with Alice, two wait in the queue; `hotline serve` is stopped and started again on the
    same database. The conversation goes on and is recorded when Alice hangs up; the two callers are still
    waiting, in the same order, and the first one is the one Bob gets when he becomes available; the second,
    who hangs up, is recorded as abandoned. Asterisk is left with nothing."""
    workdir = tmp_path / "hotline"
    extra = {"HOTLINE_AGENT_WRAP_UP_S": str(WRAP_UP_S), "HOTLINE_AGENT_RING_TIMEOUT_S": str(RING_TIMEOUT_S)}
    first = start_hotline(asterisk.env, workdir, **extra)
    second: HotlineProcess | None = None
    env = {**asterisk.env, "HOTLINE_DATABASE_URL": first.database_url}
    alice, bob = add_agent(env, "e2e-restart-alice"), add_agent(env, "e2e-restart-bob")
    try:
        first.wait_ari(connected=True)
        alice_api, bob_api = Api(first.base_url, alice.login), Api(first.base_url, bob.login)
        alice_api.state("available")
        bob_api.state("paused", "pause")
        alice_phone = AgentPhone(
            alice.login, alice.sip_password, talk=[Silence(500), Tone(AGENT_TONE_HZ, 34_000)], hold_ms=36_000,
            target=asterisk.target, workdir=tmp_path / "alice",
        )  # fmt: skip
        bob_phone = AgentPhone(
            bob.login, bob.sip_password, talk=[Silence(500), Tone(AGENT_TONE_HZ, 4000)], hold_ms=6000,
            target=asterisk.target, workdir=tmp_path / "bob",
        )  # fmt: skip
        results: dict[str, CallResult] = {}

        def caller(name: str, number: str, steps: list[Any], hold_ms: int) -> threading.Thread:
            return call_in_background(results, name, asterisk, number, steps, hold_ms, tmp_path / name)

        with alice_phone, bob_phone:
            talking = caller(
                "talking", "0633000001", [Silence(CHOOSE_MS), Dtmf("0"), Tone(CALLER_TONE_HZ, 45_000)], 60_000
            )
            wait_for("Alice on the call", lambda: alice_api.me()["state"] == "on_call", timeout=20)
            first_waiting = caller(
                "first", "0633000002", [Silence(CHOOSE_MS), Dtmf("0"), Tone(CALLER_TONE_HZ, 50_000)], 60_000
            )
            time.sleep(1.5)
            second_waiting = caller("second", "0633000003", [Silence(CHOOSE_MS), Dtmf("0"), Silence(30_000)], 30_000)
            queue_before = wait_for("two callers waiting", lambda: len(
                rows(first, select(QueueEntry).where(QueueEntry.state == QueueEntryState.WAITING))) == 2 and rows(
                first, select(QueueEntry).where(QueueEntry.state == QueueEntryState.WAITING)), timeout=20)  # fmt: skip
            order_before = [e.caller_phone for e in sorted(queue_before, key=lambda e: e.enqueued_at)]
            assert order_before == ["0633000002", "0633000003"]
            alice_api.close()
            bob_api.close()
            playwright = sync_playwright().start()
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            page = browser.new_page()
            sign_in_console(page, first.base_url, bob.login, E2E_AGENT_WEB_PASSWORD)
            live = page.locator("#live")
            expect(page.locator("#queue h2")).to_have_text("File d'attente : 2 appelants")
            page.evaluate("window.__notReloaded = true")

            first.stop()  # SIGTERM: the callers stay in Stasis, in their bridges
            restarted_at = time.monotonic()
            expect(live).to_have_text("connexion perdue, reconnexion…", timeout=10_000)
            second = start_hotline(asterisk.env, workdir, **extra, HOTLINE_PORT=str(first.port))
            second.wait_ari(connected=True)
            print(f"[e2e figures] restart: the service was back {time.monotonic() - restarted_at:.1f} s later")
            expect(live).to_have_text("en direct", timeout=10_000)
            print(f"[e2e figures] restart: Bob's console live again {time.monotonic() - restarted_at:.1f} s later")
            expect(page.locator("#queue tbody tr")).to_have_count(2)
            assert page.evaluate("window.__notReloaded") is True, "the console came back by itself"
            browser.close()
            playwright.stop()
            bob_api = Api(second.base_url, bob.login)
            queue_after = bob_api.client.get("/api/queue").json()
            assert [(r["caller_phone"], r["position"]) for r in queue_after] == [
                ("0633000002", 1), ("0633000003", 2)
            ], queue_after  # fmt: skip
            assert [r["entry_id"] for r in queue_after] == [
                e.id for e in sorted(queue_before, key=lambda e: e.enqueued_at)
            ]
            bob_api.state("available")
            for thread in (talking, first_waiting, second_waiting):
                thread.join(90)
            bob_phone.wait_call(20)
        alice_result, bob_result = alice_phone.stop(), bob_phone.stop()
        assert second is not None
        talked = results["talking"]
        heard = tone_seconds(talked.samples, AGENT_TONE_HZ)
        print(f"[e2e figures] restart: the bridged caller heard Alice {heard:.1f} s of 34 s")
        assert heard >= 25, f"the conversation went on across the restart: {talked.describe()}"
        assert talked.hung_up_by == "asterisk" and alice_result.hung_up_by == "agent"
        assert bob_result.calls_answered == 1
        assert tone_seconds(results["first"].samples, AGENT_TONE_HZ) >= MIN_TONE_S, "the first caller got Bob"
        assert tone_seconds(results["second"].samples, AGENT_TONE_HZ) == 0.0

        calls = {c.caller_number: c for c in wait_for("every call closed", lambda: (lambda cs: len(cs) == 3 and all(
            c.ended_at for c in cs) and cs)(rows(second, select(Call))), timeout=15)}  # fmt: skip
        assert calls["0633000001"].outcome is CallOutcome.TO_AGENT
        assert calls["0633000002"].outcome is CallOutcome.TO_AGENT
        assert calls["0633000003"].outcome is CallOutcome.ABANDONED
        entries = {e.caller_phone: e for e in rows(second, select(QueueEntry))}
        agents = {a.login: a.id for a in rows(second, select(Agent))}
        assert entries["0633000001"].answered_by_agent_id == agents[alice.login]
        assert entries["0633000001"].left_at is not None, "the conversation's end recorded after the restart"
        assert entries["0633000002"].answered_by_agent_id == agents[bob.login]
        assert entries["0633000003"].state is QueueEntryState.ABANDONED
        kinds = [e.kind for e in rows(second, select(CallEvent).where(CallEvent.call_id == calls["0633000002"].id))]
        assert "queue_adopted" in kinds and "agent_connected" in kinds, kinds
        bob_api.sign_off()
        assert_nothing_left(asterisk)
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.stop()
        for account in (alice, bob):
            disable_agent(env, account.login)
