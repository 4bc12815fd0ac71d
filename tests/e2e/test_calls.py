"""Real calls: sipp dials the toll-free number on the real Asterisk, the real `hotline serve` answers over ARI.

Each test checks what the caller heard (the RTP Asterisk sent back, captured and decoded), what the database
holds, and that ARI holds no channel or bridge afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from xml.etree import ElementTree as ET

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from hotline.domain.enums import CallOutcome, TicketStatus
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.services.tickets import TicketService
from hotline.storage.db import make_engine, session_scope
from hotline.storage.models import Call, CallEvent, Ticket
from ivr.flow import commands as cmd
from ivr.flow.prompts import ticket_status_key
from ivr.runtime.store import CallStore
from kb.loader import load_kb
from tests.browser.conftest import CHROMIUM, sign_in_console
from tests.e2e.conftest import AsteriskSandbox
from tests.e2e.hotline_proc import E2E_KB, HotlineProcess, start_hotline
from tests.e2e.prompt_audio import play_audio
from tests.e2e.sip.audio import find_in
from tests.e2e.sip.caller import CallResult, place_call
from tests.e2e.sip.pcap import Dtmf, Silence, Step

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(os.environ.get("HOTLINE_SCREENSHOTS", "var/screenshots"))

# Timings of the caller's script, from the answer. The e2e KB's answers are one short sentence.
DEFAULT_CALL_TIMEOUT_S = 120.0  # place_call's default
CALL_TIMEOUT_MARGIN_S = 10.0
CHOOSE_MS = 1500  # a menu key pressed during the greeting (interruptible) is taken as the choice
AFTER_ANSWER_MS = 8000  # the short answer has played and the "did it help?" question is playing


@pytest.fixture(scope="module")
def hotline(asterisk: AsteriskSandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HotlineProcess]:
    workdir = tmp_path_factory.mktemp("hotline")
    proc = start_hotline(asterisk.env, workdir)
    try:
        proc.wait_ari(connected=True)
        yield proc
    finally:
        proc.stop()


def call(asterisk: AsteriskSandbox, steps: list[Step], caller: str = "0612345678", hold_ms: int = 60_000) -> CallResult:
    # sipp's whole-call timeout (120 s by default) never ends a call before the hold the test asked for.
    timeout = max(DEFAULT_CALL_TIMEOUT_S, hold_ms / 1000 + CALL_TIMEOUT_MARGIN_S)
    result = place_call(steps, from_user=caller, hold_ms=hold_ms, target=asterisk.target, timeout=timeout)
    assert result.answered, result.describe()
    return result


T = TypeVar("T", Call, CallEvent, Ticket)


def rows_of(hotline: HotlineProcess, query: SelectOfScalar[T]) -> list[T]:
    """Rows of the running app's database, detached so they can be read after the session."""
    engine = make_engine(hotline.database_url)
    try:
        with session_scope(engine, write=False) as s:
            rows = list(s.exec(query).all())
            for row in rows:
                s.expunge(row)
            return rows
    finally:
        engine.dispose()


def calls_of(hotline: HotlineProcess, caller: str) -> list[Call]:
    return rows_of(hotline, select(Call).where(Call.caller_number == caller).order_by(col(Call.id)))


def events_of(hotline: HotlineProcess, call_id: int | None) -> list[CallEvent]:
    return rows_of(hotline, select(CallEvent).where(CallEvent.call_id == call_id).order_by(col(CallEvent.id)))


def ticket_of(hotline: HotlineProcess, call_id: int | None) -> Ticket:
    [ticket] = rows_of(hotline, select(Ticket).where(Ticket.call_id == call_id))
    return ticket


def wait_call_closed(hotline: HotlineProcess, caller: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        rows = calls_of(hotline, caller)
        if len(rows) >= count and all(r.ended_at is not None for r in rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"calls of {caller} not closed: {rows}\n{hotline.log_tail()}")
        time.sleep(0.2)


def assert_nothing_left(asterisk: AsteriskSandbox) -> None:
    assert asterisk.wait_no_channels() == []
    bridges = asterisk.ari().get("/bridges").json()
    assert bridges == []


def test_health_says_connected(hotline: HotlineProcess) -> None:
    assert hotline.health() == {"status": "ok", "db": "ok", "ari": "connected"}


def test_menu_faq_answer_then_yes(asterisk: AsteriskSandbox, hotline: HotlineProcess) -> None:
    caller = "0611000001"
    result = call(asterisk, [Silence(CHOOSE_MS), Dtmf("1"), Silence(AFTER_ANSWER_MS), Dtmf("1")], caller)
    assert result.hung_up_by == "asterisk", result.describe()  # after the goodbye
    assert result.heard.audible_seconds > 6, result.describe()  # greeting start, answer, question, goodbye
    [row] = wait_call_closed(hotline, caller)
    assert row.outcome is CallOutcome.SELF_SERVED and row.faq_id == "mairie.horaires"
    kinds = [e.kind for e in events_of(hotline, row.id)]
    assert kinds[0] == "stasis_start" and "faq_answered" in kinds and "confirm" in kinds and kinds[-1] == "hangup"
    ticket = ticket_of(hotline, row.id)
    assert ticket.outcome is CallOutcome.SELF_SERVED and ticket.status is TicketStatus.RESOLVED
    assert_nothing_left(asterisk)


def _existing_dossier(hotline: HotlineProcess) -> str:
    engine = make_engine(hotline.database_url)
    try:
        store = CallStore(engine, load_kb(E2E_KB))
        call_id = store.start_call(f"e2e-earlier-{uuid.uuid4().hex}", "0699999999", "0800123456")
        return store.create_ticket(call_id, "earlier", "dechets.collecte", False)
    finally:
        engine.dispose()


def _dossier_steps(number: str) -> list[Step]:
    steps: list[Step] = [Silence(CHOOSE_MS), Dtmf("5"), Silence(2000)]
    steps += [Dtmf(d) for d in number + "#"]
    return steps


def test_dossier_follow_up_valid_number(asterisk: AsteriskSandbox, hotline: HotlineProcess) -> None:
    caller = "0611000002"
    dossier = _existing_dossier(hotline)
    result = call(asterisk, [*_dossier_steps(dossier), Silence(16_000)], caller, hold_ms=30_000)
    [row] = wait_call_closed(hotline, caller)
    lookups = [e for e in events_of(hotline, row.id) if e.kind == "dossier_lookup"]
    assert [(e.data["dossier"], e.data["found"], e.data["status"]) for e in lookups] == [(dossier, 1, "open")]
    # After the digits the caller hears the status read out: intro, 8 digits, the status sentence.
    assert result.heard.audible_seconds > 10, result.describe()
    assert row.outcome is CallOutcome.SELF_SERVED
    assert_nothing_left(asterisk)


def test_a_request_made_through_open311_is_followed_by_phone(
    asterisk: AsteriskSandbox, hotline: HotlineProcess
) -> None:
    """A city system files a report through Open311 with its key (made by `hotline open311 key add`); an agent
    resolves and closes it; the citizen calls, types the dossier number Open311 gave, and hears it is closed."""
    env = {**os.environ, "HOTLINE_DATABASE_URL": hotline.database_url}
    made = subprocess.run([sys.executable, "-m", "hotline.cli", "open311", "key", "add", "e2e-city", "--json"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert made.returncode == 0, made.stderr
    form = {"api_key": json.loads(made.stdout)["api_key"], "service_code": "dechets.collecte",
            "address_string": "3 place du Marché", "description": "Bac non collecté mardi."}  # fmt: skip
    r = httpx.post(f"{hotline.base_url}/open311/v2/requests.xml", data=form, timeout=10)
    assert r.status_code == 200, r.text
    dossier = ET.fromstring(r.content).findtext("request/service_request_id")
    assert dossier is not None
    engine = make_engine(hotline.database_url)
    try:
        with session_scope(engine, write=False) as s:
            ticket_id = s.exec(select(Ticket.id).where(Ticket.dossier_number == dossier)).one()
        assert ticket_id is not None
        tickets = TicketService(engine, None, load_kb(E2E_KB))
        tickets.change_status(ticket_id, TicketStatus.RESOLVED)
        tickets.change_status(ticket_id, TicketStatus.CLOSED)
    finally:
        engine.dispose()
    caller = "0611000009"
    result = call(asterisk, [*_dossier_steps(dossier), Silence(16_000)], caller, hold_ms=30_000)
    [row] = wait_call_closed(hotline, caller)
    lookups = [e for e in events_of(hotline, row.id) if e.kind == "dossier_lookup"]
    assert [(e.data["dossier"], e.data["status"]) for e in lookups] == [(dossier, "closed")]
    # The whole readout as the hotline plays it: the intro, the digits and the status, in one voice.
    status = (
        cmd.Prompt("dossier_status_intro"),
        cmd.Digits(dossier),
        cmd.Prompt(ticket_status_key(TicketStatus.CLOSED)),
    )
    at, score = find_in(result.samples, play_audio(asterisk, *status))
    print(f"[e2e figures] open311 → phone: the closed status heard at {at:.1f} s (match {score:.3f})")
    assert score >= 0.9, f"the caller hears the status: match {score:.3f}"
    [read] = httpx.get(f"{hotline.base_url}/open311/v2/requests/{dossier}.json", timeout=10).json()
    assert read["status"] == "closed"
    assert_nothing_left(asterisk)


def test_dossier_follow_up_invalid_number(asterisk: AsteriskSandbox, hotline: HotlineProcess) -> None:
    caller = "0611000003"
    dossier = _existing_dossier(hotline)
    wrong = dossier[:-1] + str((int(dossier[-1]) + 1) % 10)  # wrong check digit
    call(asterisk, [*_dossier_steps(wrong), Silence(5000)], caller, hold_ms=12_000)
    [row] = wait_call_closed(hotline, caller)
    kinds = [e.kind for e in events_of(hotline, row.id)]
    assert "dossier_rejected" in kinds and "dossier_lookup" not in kinds
    assert row.outcome is CallOutcome.ABANDONED  # hung up while asked to type it again
    assert_nothing_left(asterisk)


def test_zero_with_nobody_logged_in_offers_a_callback_and_gives_a_dossier(
    asterisk: AsteriskSandbox, hotline: HotlineProcess
) -> None:
    caller = "0611000004"
    # Nobody is logged in: "aucun conseiller n'est disponible… rappelé, tapez 1… message, tapez 2"; 1 while it plays.
    result = call(asterisk, [Silence(CHOOSE_MS), Dtmf("0"), Silence(3000), Dtmf("1")], caller, hold_ms=60_000)
    assert result.hung_up_by == "asterisk", result.describe()
    [row] = wait_call_closed(hotline, caller)
    kinds = [e.kind for e in events_of(hotline, row.id)]
    assert "queue_unavailable" in kinds and "offer_callback_chosen" in kinds, kinds
    offer = play_audio(asterisk, *(cmd.Prompt(k) for k in ("no_agent_now", "queue_callback_key", "queue_message_key")))
    _, match = find_in(result.samples, offer[: 2 * 8000])
    assert match > 0.9, f"the offer's first words: match {match:.3f}"
    assert row.outcome is CallOutcome.CALLBACK_REQUESTED
    ticket = ticket_of(hotline, row.id)
    assert ticket.needs_callback and ticket.status is TicketStatus.WAITING_CALLBACK
    assert ticket.caller_phone == caller
    assert_nothing_left(asterisk)


def test_no_input_reprompts_then_human(asterisk: AsteriskSandbox, hotline: HotlineProcess) -> None:
    caller = "0611000005"
    result = call(asterisk, [Silence(1000)], caller, hold_ms=150_000)
    assert result.hung_up_by == "asterisk", result.describe()
    [row] = wait_call_closed(hotline, caller)
    events = events_of(hotline, row.id)
    reprompts = [e for e in events if e.kind == "reprompt"]
    assert [e.data["reason"] for e in reprompts] == ["no_input", "no_input"]
    # A reprompt is two prompts in one playback, in one voice: the caller hears it whole, start to end.
    heard = result.samples
    reprompt = play_audio(asterisk, cmd.Prompt("no_input"), cmd.Prompt("menu"))
    start_at, start_match = find_in(heard, reprompt[: 3 * 8000])
    # Only within one reprompt's length: the second reprompt ends with the very same audio.
    one_reprompt = heard[int(start_at * 8000) : int(start_at * 8000) + len(reprompt) + 2 * 8000]
    end_at, end_match = find_in(one_reprompt, reprompt[-3 * 8000 :])
    played = (len(reprompt) - 3 * 8000) / 8000  # from the start window to the end window, in the file
    assert start_match > 0.9 and end_match > 0.9, (start_at, start_match, end_at, end_match)
    assert abs(end_at - played) < 0.5, (end_at, played)
    assert any(e.kind == "to_human" and e.data["reason"] == "retries_exhausted" for e in events)
    assert row.outcome is CallOutcome.CALLBACK_REQUESTED
    assert ticket_of(hotline, row.id).needs_callback
    assert_nothing_left(asterisk)


HANGUP_SCRIPTS: dict[str, list[Step]] = {
    "greeting": [Silence(800)],
    "menu": [Silence(6500)],  # the greeting lasts about 4 s
    "faq_answer": [Silence(CHOOSE_MS), Dtmf("1"), Silence(1200)],
    "confirm": [Silence(CHOOSE_MS), Dtmf("1"), Silence(AFTER_ANSWER_MS)],
    "dossier_entry": [Silence(CHOOSE_MS), Dtmf("5"), Silence(2000), Dtmf("1"), Dtmf("2")],
    "offer": [Silence(CHOOSE_MS), Dtmf("0"), Silence(3000)],  # nobody logged in: the callback or message offer
}


def test_caller_hangs_up_in_each_state(asterisk: AsteriskSandbox, hotline: HotlineProcess) -> None:
    callers = {state: f"06220000{i:02d}" for i, state in enumerate(HANGUP_SCRIPTS)}
    with ThreadPoolExecutor(len(HANGUP_SCRIPTS)) as pool:
        results = dict(
            zip(
                HANGUP_SCRIPTS,
                pool.map(
                    lambda state: place_call(HANGUP_SCRIPTS[state], from_user=callers[state], target=asterisk.target),
                    HANGUP_SCRIPTS,
                ),
                strict=True,
            )
        )
    for state, result in results.items():
        assert result.answered and result.hung_up_by == "caller", f"{state}: {result.describe()}"
    for state, caller in callers.items():
        [row] = wait_call_closed(hotline, caller)
        hung = [e for e in events_of(hotline, row.id) if e.kind == "caller_hung_up"]
        assert [e.data["state"] for e in hung] == [state], state
        # Who asked for a person and hangs up before choosing is called back: that request stands.
        expected = CallOutcome.CALLBACK_REQUESTED if state == "offer" else CallOutcome.ABANDONED
        assert row.outcome is expected, state
        assert ticket_of(hotline, row.id).outcome is expected
    assert_nothing_left(asterisk)


def test_received_audio_is_the_hotline_speaking(
    asterisk: AsteriskSandbox, hotline: HotlineProcess, tmp_path: Path
) -> None:
    """The first seconds the caller hears are the greeting, not noise: loud enough, with pauses of speech."""
    result = call(asterisk, [Silence(4000)], "0611000006", hold_ms=4000)
    heard = result.heard
    assert heard.audible_seconds > 2.0, result.describe()
    assert heard.peak_dbfs > -20, result.describe()
    wait_call_closed(hotline, "0611000006")


@contextmanager
def _supervisor(hotline: HotlineProcess, login: str) -> Iterator[httpx.Client]:
    """A supervisor signed in to the running hotline's API (made in its database, as an admin would)."""
    engine = make_engine(hotline.database_url)
    try:
        AgentAccounts(engine).add(login, "Sophie Garnier", Role.SUPERVISOR, [], "un-mot-de-passe")
    finally:
        engine.dispose()
    with httpx.Client(base_url=hotline.base_url, timeout=10) as client:
        signed = client.post("/api/session", json={"login": login, "password": "un-mot-de-passe"})
        assert signed.status_code == 200, signed.text
        client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        yield client


def test_the_wallboard_follows_real_calls_then_crisis_mode_switched_on_there_is_heard_on_the_next_call(
    asterisk: AsteriskSandbox, hotline: HotlineProcess
) -> None:
    """A supervisor's wallboard in chromium: five real callers at once ask for the town hall's hours (key 1), the
    board shows them in the IVR and raises "sujet en hausse" for the town hall; the supervisor types a crisis
    announcement, hears it, switches crisis mode on, and the very next caller hears it after the greeting."""
    message = "Coupure d'eau aux Granges-Basses jusqu'à dix-huit heures."
    with _supervisor(hotline, "sophie-e2e"), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        sign_in_console(page, hotline.base_url, "sophie-e2e", "un-mot-de-passe")
        page.goto(f"{hotline.base_url}/wallboard")
        expect(page.locator("#live")).to_have_text("en direct")
        in_ivr = page.locator("#tile-ivr .value")
        idle = in_ivr.inner_text()  # the rows earlier tests left "in progress" (made without a real call) count too
        callers = [f"06110000{40 + i}" for i in range(5)]
        steps = [Silence(CHOOSE_MS), Dtmf("1"), Silence(5000)]  # the answer, then hang up
        with ThreadPoolExecutor(len(callers)) as pool:
            flowing = [pool.submit(place_call, steps, from_user=c, target=asterisk.target) for c in callers]
            expect(in_ivr).not_to_have_text(idle, timeout=5000)  # while they flow
            for done in flowing:
                done.result()
        expect(page.locator("#surge-banner")).to_contain_text("Sujet en hausse : Mairie", timeout=5000)
        expect(in_ivr).to_have_text(idle, timeout=5000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "wallboard-real-calls.png"), full_page=True)
        controls = page.locator("#crisis-controls")
        controls.get_by_label("Annonce de crise").fill(message)
        controls.get_by_role("button", name="Écouter l'annonce").click()
        expect(page.locator("#crisis-status")).to_have_text("Voici l'annonce telle que les appelants l'entendront.")
        controls.get_by_label("Mode crise activé").check()
        controls.get_by_role("button", name="Appliquer").click()
        expect(page.locator("#crisis-status")).to_have_text("Mode crise activé : le prochain appel entendra l'annonce.")
        try:
            result = call(asterisk, [Silence(11_000)], "0611000021", hold_ms=11_000)
        finally:
            controls.get_by_label("Mode crise activé").uncheck()
            controls.get_by_role("button", name="Appliquer").click()
            expect(page.locator("#crisis-status")).to_have_text("Mode crise désactivé.")
            browser.close()
    [row] = wait_call_closed(hotline, "0611000021")
    assert row.crisis_mode
    at, score = find_in(result.samples, play_audio(asterisk, cmd.Prompt("greeting"), cmd.Say(message)))
    print(f"[e2e figures] crisis: the greeting and pre-announcement heard at {at:.1f} s (match {score:.3f})")
    assert score >= 0.9, f"the caller hears the pre-announcement: match {score:.3f}"
    for caller in callers:
        assert wait_call_closed(hotline, caller)[0].topic == "mairie"
    assert_nothing_left(asterisk)


def test_real_calls_are_counted_in_metrics_the_wallboard_and_the_kpis(
    asterisk: AsteriskSandbox, hotline: HotlineProcess
) -> None:
    """Three callers at once (one served by the knowledge base, one asking for a person and choosing the
    callback, one hanging up in the menu): /metrics, GET /api/wallboard and GET /api/kpis each count them."""
    scripts = {
        "0611000031": [Silence(CHOOSE_MS), Dtmf("1"), Silence(AFTER_ANSWER_MS), Dtmf("1")],  # self-served
        "0611000032": [Silence(CHOOSE_MS), Dtmf("0"), Silence(3000), Dtmf("1")],  # the callback
        "0611000033": [Silence(6500)],  # hangs up in the menu: abandoned
    }
    with _supervisor(hotline, "sophie-metrics") as api:
        before_metrics, before_board = hotline.metrics(), api.get("/api/wallboard").json()
        with ThreadPoolExecutor(len(scripts)) as pool:
            list(pool.map(lambda c: place_call(scripts[c], from_user=c, target=asterisk.target), scripts))
        for caller in scripts:
            wait_call_closed(hotline, caller)
        after_metrics, after_board, kpis = hotline.metrics(), api.get("/api/wallboard").json(), api.get("/api/kpis")
    assert kpis.status_code == 200, kpis.text

    def offered(m: dict[tuple[str, tuple[tuple[str, str], ...]], float], outcome: str) -> float:
        return m.get(("hotline_calls_offered_total", (("outcome", outcome),)), 0.0)

    for outcome in ("self_served", "callback_requested", "abandoned"):
        assert offered(after_metrics, outcome) - offered(before_metrics, outcome) == 1, outcome
    self_served = ("hotline_ivr_self_served_total", (("topic", "mairie"),))
    assert after_metrics.get(self_served, 0) - before_metrics.get(self_served, 0) == 1
    assert after_metrics[("hotline_ari_connected", ())] == 1
    for gauge in ("hotline_ivr_calls", "hotline_queue_calls"):  # back to what they were: nobody left behind
        assert after_metrics[(gauge, ())] == before_metrics[(gauge, ())], gauge
    today_before, today_after = before_board["today"], after_board["today"]
    for outcome in ("self_served", "callback_requested", "abandoned"):
        assert today_after["by_outcome"].get(outcome, 0) - today_before["by_outcome"].get(outcome, 0) == 1, outcome
    assert today_after["calls"] - today_before["calls"] == 3
    assert kpis.json()["by_outcome"] == today_after["by_outcome"]  # the same day, the same counts
    assert after_board["live"]["calls_in_ivr"] == before_board["live"]["calls_in_ivr"]
    assert_nothing_left(asterisk)
