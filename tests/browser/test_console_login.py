"""An agent signs in to the console in a real browser, sees their desk, and signs out; a wrong password is said."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.browser.conftest import PASSWORD, WebApp


def test_an_agent_signs_in_sees_the_console_and_signs_out(web_app: WebApp, browser: Browser, tmp_path: Path) -> None:
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{web_app.base_url}/console")
    expect(page).to_have_url(f"{web_app.base_url}/login")
    page.fill("#login", "alice")
    page.fill("#password", "faux")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("Identifiant ou mot de passe incorrect.")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{web_app.base_url}/console")
    expect(page.locator("h1")).to_have_text("Console — Alice Martin")
    expect(page.locator("#me h2")).to_contain_text("Mon état : hors ligne")
    color = page.evaluate("getComputedStyle(document.querySelector('.bar')).backgroundColor")
    assert color == "rgb(0, 0, 145)", "the app's own stylesheet is applied"
    page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
    page.click("text=Se déconnecter")
    expect(page).to_have_url(f"{web_app.base_url}/login")
    page.goto(f"{web_app.base_url}/console")
    expect(page).to_have_url(f"{web_app.base_url}/login")
    assert all(url.startswith(web_app.base_url) for url in requests), "nothing from anywhere else (no CDN)"
    page.close()
