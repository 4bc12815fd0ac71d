"""The supervisors' wallboard in chromium: tiles, the agents' list, the surge banner and the crisis banner move
within a second of the events, without a reload."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from hotline.domain.enums import AgentState, CallOutcome
from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.services.call_supervision import SupervisionMode, SupervisionRefusedError, SupervisionStarted
from hotline.services.crisis import CrisisService
from hotline.services.queue import NewEntry, QueueService
from ivr.runtime.store import CallStore
from tests.browser.conftest import PASSWORD, WebApp, sign_in_console
from tests.browser.test_console_live import LIVE_MS, agent_id, shoot


@pytest.fixture(scope="module")
def store(web_app: WebApp) -> CallStore:
    return CallStore(web_app.hotline.engine, web_app.hotline.kb, web_app.hotline.bus)


@pytest.fixture(scope="module")
def page(web_app: WebApp, browser: Browser) -> Iterator[Page]:
    AgentAccounts(web_app.hotline.engine).add("sophie", "Sophie Garnier", Role.SUPERVISOR, [], PASSWORD)
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="fr-FR")
    opened = context.new_page()
    sign_in_console(opened, web_app.base_url, "sophie")
    opened.goto(f"{web_app.base_url}/wallboard")
    expect(opened.locator("#live")).to_have_text("en direct")
    yield opened
    context.close()


def test_a_caller_waiting_and_an_agent_signing_in_show_at_once(web_app: WebApp, page: Page, store: CallStore) -> None:
    expect(page.locator("#tile-waiting .value")).to_have_text("0")
    page.evaluate("window.__notReloaded = true")
    call_id = store.start_call("wall-1", "+33612345678", "0800123456")
    QueueService(web_app.hotline.engine, web_app.hotline.bus).enqueue(
        NewEntry(call_id, "wall-1", "+33612345678", "eau", "eau.coupure", 0, "caller_asked", "plus d'eau")
    )
    expect(page.locator("#tile-waiting .value")).to_have_text("1", timeout=LIVE_MS)
    expect(page.locator("#tile-waiting")).to_have_class("tile alert")  # a caller waits and nobody is available
    expect(page.locator("#tile-oldest .value")).to_have_text(re.compile(r"^[2-9] s$"), timeout=4000)  # ticks locally
    queue = QueueService(web_app.hotline.engine, web_app.hotline.bus)
    queue.set_agent_state(agent_id(web_app, "alice"), AgentState.AVAILABLE)
    expect(page.locator("#tile-available .value")).to_have_text("1", timeout=LIVE_MS)
    row = page.locator(f'#agents tr[data-agent-id="{agent_id(web_app, "alice")}"]')
    expect(row).to_contain_text("Alice Martin")
    expect(row).to_contain_text("disponible")
    queue.set_agent_state(agent_id(web_app, "alice"), AgentState.PAUSED, reason="réunion")
    expect(row).to_contain_text("en pause", timeout=LIVE_MS)
    expect(row).to_contain_text("réunion")
    assert page.evaluate("window.__notReloaded") is True


def test_a_burst_of_water_calls_from_one_commune_raises_the_surge_banner(page: Page, store: CallStore) -> None:
    banner = page.locator("#surge-banner")
    expect(banner).to_be_hidden()
    for i in range(6):
        call_id = store.start_call(f"wall-surge-{i}", f"+3361122334{i}", "0800123456")
        store.finish_call(call_id, CallOutcome.SELF_SERVED, "eau.coupure", transcript="plus d'eau aux Granges-Basses")
    expect(banner).to_be_visible(timeout=LIVE_MS)
    expect(banner).to_contain_text("Sujet en hausse : Eau à Villeroux — 6 appels en 30 min")
    expect(page.locator("#surge-rule")).to_contain_text("3 fois plus vite que d'habitude")
    expect(page.locator("#tile-self .value")).to_have_text("100 %")
    expect(page.locator("#chart rect[data-outcome=self_served]")).not_to_have_count(0)
    shoot(page, "wallboard-surge.png")


def test_crisis_mode_shows_on_the_wallboard(web_app: WebApp, page: Page) -> None:
    crisis = CrisisService(web_app.hotline.engine, web_app.hotline.bus)
    crisis.set(True, "Coupure d'eau aux Granges-Basses jusqu'à 18 h.", by="sophie")
    banner = page.locator("#crisis-banner")
    expect(banner).to_contain_text(
        "Mode crise activé : « Coupure d'eau aux Granges-Basses jusqu'à 18 h. »", timeout=LIVE_MS
    )
    crisis.set(False, None, by="sophie")
    expect(banner).to_be_hidden(timeout=LIVE_MS)


def test_the_supervisor_hears_the_announcement_then_switches_crisis_mode_on(
    web_app: WebApp, page: Page, tmp_path: Path
) -> None:
    message = "Coupure d'eau à Villeroux jusqu'à 18 heures : de l'eau en bouteille est distribuée à la mairie."
    controls = page.locator("#crisis-controls")
    controls.get_by_label("Annonce de crise").fill(message)
    controls.get_by_role("button", name="Écouter l'annonce").click()
    expect(page.locator("#crisis-status")).to_have_text("Voici l'annonce telle que les appelants l'entendront.")
    seconds = page.evaluate(
        """() => new Promise((ok) => { const a = document.getElementById('crisis-preview');
             if (a.readyState >= 1) ok(a.duration);
             else a.addEventListener('loadedmetadata', () => ok(a.duration)); })"""
    )
    assert 3 < seconds < 15  # the sentence in the hotline's voice, decoded by the browser
    controls.get_by_label("Fiche prioritaire").select_option("eau.coupure")
    controls.get_by_label("Proposer le rappel").fill("120")
    controls.get_by_label("Mode crise activé").check()
    controls.get_by_role("button", name="Appliquer").click()
    expect(page.locator("#crisis-status")).to_have_text("Mode crise activé : le prochain appel entendra l'annonce.")
    now = web_app.hotline.crisis.current()
    assert (now.announcement, now.pinned, now.overflow_s) == (message, "eau.coupure", 120)
    expect(page.locator("#crisis-banner")).to_contain_text("Mode crise activé", timeout=LIVE_MS)
    shoot(page, "wallboard-crisis-controls.png")
    # A recording instead of the text: uploaded, converted, put in service.
    tone = tmp_path / "annonce.wav"
    subprocess.run(["sox", "-n", "-r", "44100", str(tone), "synth", "2", "sine", "440"], check=True)
    controls.locator("#crisis-file").set_input_files(str(tone))
    controls.get_by_role("button", name="Envoyer l'enregistrement").click()
    expect(page.locator("#crisis-recording")).to_contain_text("Enregistrement de 2 s prêt")
    controls.get_by_role("button", name="Appliquer").click()
    expect(page.locator("#crisis-status")).to_have_text("Mode crise activé : le prochain appel entendra l'annonce.")
    recording = web_app.hotline.crisis.current().announcement_recording
    assert recording is not None and recording.startswith("recorded/")
    controls.get_by_label("Mode crise activé").uncheck()
    controls.get_by_role("button", name="Appliquer").click()
    expect(page.locator("#crisis-status")).to_have_text("Mode crise désactivé.")
    expect(page.locator("#crisis-banner")).to_be_hidden(timeout=LIVE_MS)


class Desk:
    """What the IVR would do with the buttons: the requests, and a refusal when told."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int, SupervisionMode]] = []
        self.refusal: str | None = None

    async def supervise(self, agent_id: int, supervisor_id: int, mode: SupervisionMode) -> SupervisionStarted:
        self.asked.append((agent_id, supervisor_id, mode))
        if self.refusal:
            raise SupervisionRefusedError(self.refusal)
        return SupervisionStarted(mode, "alice", 1)


def test_listen_whisper_and_join_buttons_on_an_agent_in_conversation(
    web_app: WebApp, page: Page, store: CallStore
) -> None:
    """Alice is on a call: her row has « Écouter », « Chuchoter », « Intervenir »; each asks the API (with the
    CSRF header) and the answer or the refusal is said beside the table, also after the board is drawn again."""
    engine, bus = web_app.hotline.engine, web_app.hotline.bus
    web = web_app.hotline.web
    desk = Desk()
    web.state.parts = dataclasses.replace(web.state.parts, supervising=desk)
    alice = agent_id(web_app, "alice")
    queue = QueueService(engine, bus)
    call_id = store.start_call("wall-supervise", "+33655443322", "0800123456")
    entry_id = queue.enqueue(NewEntry(call_id, "wall-supervise", "+33655443322", None, None, 0, "caller_asked", None))
    queue.set_agent_state(alice, AgentState.AVAILABLE)
    queue.offer(entry_id, alice)
    assert queue.answered(entry_id, alice)
    row = page.locator(f'#agents tr[data-agent-id="{alice}"]')
    expect(row).to_contain_text("en communication", timeout=LIVE_MS)
    status = page.locator("#supervise-status")
    row.get_by_role("button", name="Écouter").click()
    expect(status).to_have_text("Votre téléphone sonne : décrochez pour écouter l'appel de Alice Martin.")
    queue.set_agent_state(agent_id(web_app, "bruno"), AgentState.AVAILABLE)  # an event: the rows are drawn again
    expect(page.locator(f'#agents tr[data-agent-id="{agent_id(web_app, "bruno")}"]')).to_be_visible(timeout=LIVE_MS)
    expect(page.locator(f'#agents tr[data-agent-id="{agent_id(web_app, "bruno")}"] button')).to_have_count(0)
    row.get_by_role("button", name="Chuchoter").click()
    expect(status).to_have_text("Votre téléphone sonne : décrochez pour parler à Alice Martin.")
    desk.refusal = "Ce conseiller n'est pas en communication."
    row.get_by_role("button", name="Intervenir").click()
    expect(status).to_have_text("Ce conseiller n'est pas en communication.")
    shoot(page, "wallboard-supervision.png")
    sophie = agent_id(web_app, "sophie")
    assert desk.asked == [(alice, sophie, m) for m in SupervisionMode]
    queue.conversation_ended(entry_id)
    expect(row.get_by_role("button")).to_have_count(0, timeout=LIVE_MS)


def test_an_agent_cannot_open_the_wallboard(web_app: WebApp, browser: Browser) -> None:
    context = browser.new_context()
    agent_page = context.new_page()
    sign_in_console(agent_page, web_app.base_url, "bruno")
    response = agent_page.goto(f"{web_app.base_url}/wallboard")
    assert response is not None and response.status == 403
    expect(agent_page.locator("h1")).to_have_text("Accès refusé")
    context.close()
