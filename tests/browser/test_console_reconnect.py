"""The console's and the wallboard's event streams come back by themselves when the server restarts, and the
pages catch up with what changed while they were away (here a caller who joined the queue during the restart)."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from hotline.domain.roles import Role
from hotline.services.agent_accounts import AgentAccounts
from hotline.services.queue import NewEntry, QueueService
from ivr.runtime.store import CallStore
from tests.browser.conftest import PASSWORD, Server, sign_in_console


def test_the_console_and_the_wallboard_reconnect_after_a_restart_and_catch_up(server: Server, browser: Browser) -> None:
    page = browser.new_page()
    sign_in_console(page, server.base_url, "bruno")
    live = page.locator("#live")
    page.evaluate("window.__notReloaded = true")
    AgentAccounts(server.hotline.engine).add("sophie", "Sophie Garnier", Role.SUPERVISOR, [], PASSWORD)
    board = browser.new_page()
    sign_in_console(board, server.base_url, "sophie")
    board.goto(f"{server.base_url}/wallboard")
    expect(board.locator("#live")).to_have_text("en direct")
    expect(board.locator("#tile-waiting .value")).to_have_text("0")
    board.evaluate("window.__notReloaded = true")

    server.stop()
    expect(live).to_have_text("connexion perdue, reconnexion…", timeout=5000)
    engine = server.hotline.engine
    store = CallStore(engine, server.hotline.kb)  # no bus: nobody is listening while the server is down
    call_id = store.start_call("away-1", "+33655443322", "0800123456")
    QueueService(engine).enqueue(NewEntry(call_id, "away-1", "+33655443322", "eau", None, 0, "caller_asked",
                                          "une fuite devant chez moi"))  # fmt: skip
    server.start()
    expect(live).to_have_text("en direct", timeout=8000)
    expect(page.locator("#queue")).to_contain_text("une fuite devant chez moi", timeout=3000)
    expect(page.locator("#queue")).to_contain_text("06 55 44 33 22")
    assert page.evaluate("window.__notReloaded") is True, "caught up without a reload"
    expect(board.locator("#live")).to_have_text("en direct", timeout=8000)
    expect(board.locator("#tile-waiting .value")).to_have_text("1", timeout=3000)
    assert board.evaluate("window.__notReloaded") is True
    board.close()
    page.close()
