"""The classroom in a real browser (Debian's chromium driven by playwright): a teacher starts the game,
two students log in, one opens a 20x isolated long and one a cross long, the teacher shocks the index,
the isolated student sees the liquidation notice and the projector's leaderboard counts it; then 30
students trade from clients while the projector follows. No page logs a console error; the student
page works at a phone's width. Screenshots of each page go to runs/screenshots/ (look at them after a
run); with DOCS_IMAGES_UPDATE=1 they replace the ones in docs/images/ that docs/classroom.md shows."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import aiohttp
import pytest

from .conftest import ADMIN_KEY, BTC, GAME, Client, classroom, login_of, market_maker, run, until

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / ("docs/images" if os.environ.get("DOCS_IMAGES_UPDATE") == "1" else "runs/screenshots")
THIRTY = GAME.replace('students = [{ name = "Ada", team = "Red" }, { name = "Bob", team = "Blue" }]',
                      'students = [{ name = "Ada", team = "Red" }, { name = "Bob", team = "Blue" }]\ncount = 28\n'
                      'teams = ["Red", "Blue", "Green"]') + '[population]\nscenario = "classroom"\n'  # the background market

pytestmark = pytest.mark.browser


async def browser():
    from playwright.async_api import async_playwright
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed: apt-get install chromium (.ci/run does)"
    pw = await async_playwright().start()
    return pw, await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)


class Pages:
    """Pages that record their console errors and uncaught exceptions."""

    def __init__(self, browser) -> None:
        self.browser = browser
        self.errors: list[str] = []

    async def open(self, url: str, width: int = 1400, height: int = 900, mobile: bool = False):
        context = await self.browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile,
                                                 has_touch=mobile)
        page = await context.new_page()
        page.on("console", lambda m: self.errors.append(f"{url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"{url}: {e}"))
        await page.goto(url)
        return page


async def log_in(page, login: str) -> None:
    await page.fill("#login-code", login)
    await page.click("#login-form button")
    await page.wait_for_selector("#trade:not(.hidden)")
    await page.wait_for_function("document.querySelector('#mark').textContent !== '-'")


async def set_leverage(page, value: int) -> None:
    await page.eval_on_selector("#leverage", "(el, v) => { el.value = v; el.dispatchEvent(new Event('input'));"
                                " el.dispatchEvent(new Event('change')); }", value)
    await page.wait_for_function("document.querySelector('#ticket-message').textContent.includes('Leverage set')")


async def market_buy(page, qty: str) -> None:
    await page.click("#order-type button[data-type=MARKET]")
    await page.fill("#qty", qty)
    await page.click("#buy")
    await page.wait_for_function("document.querySelector('#ticket-message').textContent.startsWith('Bought')")


def test_the_lesson_in_a_real_browser(tmp_path):
    async def main() -> None:
        pw, chromium = await browser()
        IMAGES.mkdir(parents=True, exist_ok=True)
        try:
            async with classroom(tmp_path) as svc, market_maker(svc):
                base = f"http://127.0.0.1:{svc.http_port}/game"
                pages = Pages(chromium)
                teacher = await pages.open(f"{base}/teacher")
                await teacher.fill("#key", ADMIN_KEY)
                await teacher.click("#key-form button")
                await teacher.wait_for_selector("#console:not(.hidden)")
                await teacher.click("button[data-action=start]")
                await until(lambda: svc.game.state == "running")
                projector = await pages.open(f"{base}/projector", 1600, 900)
                ada = await pages.open(f"{base}/")
                await log_in(ada, login_of(svc, "Ada"))
                bob = await pages.open(f"{base}/", 390, 844, mobile=True)
                await log_in(bob, login_of(svc, "Bob"))

                await ada.click("#mode button[data-mode=ISOLATED]")
                await ada.wait_for_function("document.querySelector('#ticket-message').textContent.includes('isolated')")
                await set_leverage(ada, 20)
                await market_buy(ada, "0.1")
                await set_leverage(bob, 20)
                await market_buy(bob, "0.1")
                await ada.wait_for_function("document.querySelector('#positions').textContent.includes('20x isolated long 0.100')")
                await bob.wait_for_function("document.querySelector('#positions').textContent.includes('20x cross long 0.100')")
                await ada.screenshot(path=str(IMAGES / "classroom-student.png"))
                await bob.screenshot(path=str(IMAGES / "classroom-student-phone.png"), full_page=True)
                width = await bob.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"the phone page is {width} px wide"

                # a dip to just above Ada's liquidation price (57,286.1): her page warns her, Bob's does not
                await teacher.fill("#news-text", "Rumours of trouble at a large exchange.")
                await teacher.fill("#shock-pct", "-4.45")
                await teacher.click("#news-form button")
                await ada.wait_for_selector("#warning:not(.hidden)", timeout=30_000)
                assert "close to liquidation" in await ada.inner_text("#warning")
                assert await bob.is_hidden("#warning")
                await ada.wait_for_timeout(1500)  # the next leaderboard and chart sample
                await ada.screenshot(path=str(IMAGES / "classroom-warning.png"))

                await teacher.fill("#news-text", "Breaking: a large exchange halts withdrawals.")
                await teacher.fill("#shock-pct", "-6")
                await teacher.click("#news-form button")
                await ada.wait_for_selector("#liquidated:not(.hidden)", timeout=30_000)
                text = await ada.inner_text("#liquidated-text")
                assert text.startswith("Your 20x isolated long of 0.100 BTC was liquidated"), text
                assert "It cost you 300.30 USDT (3.0% of your account)" in text, text
                await ada.wait_for_timeout(1500)
                await ada.screenshot(path=str(IMAGES / "classroom-liquidated.png"))
                await projector.wait_for_function(
                    "[...document.querySelectorAll('#board tr')].some(r => r.cells[1] && r.cells[1].textContent === 'Ada'"
                    " && r.cells[6].textContent === '1')")
                await projector.wait_for_function("document.querySelector('#liquidations').textContent.includes('Ada: isolated long 0.100')")
                assert "Breaking" in await projector.inner_text("#news")
                assert await bob.is_hidden("#liquidated")
                await ada.click("#liquidated-ok")
                await ada.reload()  # a notice once understood is not shown again...
                await ada.wait_for_function("document.querySelector('#positions').textContent.includes('No position')")
                assert await ada.is_hidden("#liquidated")
                away = await pages.open(f"{base}/")  # ...but one that happened while away is
                await log_in(away, login_of(svc, "Ada"))
                await away.wait_for_selector("#liquidated:not(.hidden)")
                await projector.wait_for_timeout(1500)
                await projector.screenshot(path=str(IMAGES / "classroom-projector.png"))
                await teacher.wait_for_function("document.querySelector('#liquidations').textContent.includes('Ada')")
                await teacher.screenshot(path=str(IMAGES / "classroom-teacher.png"), full_page=True)
                async with teacher.expect_popup() as popup:
                    await teacher.click("#report")
                report = await popup.value
                await report.wait_for_load_state()
                assert "The lesson: cross or isolated margin" in await report.inner_text("body")
                await report.screenshot(path=str(IMAGES / "classroom-report.png"))
                async with teacher.expect_download() as download:
                    await teacher.click("#csv")
                assert (await (await download.value).path()).read_text().startswith("rank,name,team")
                assert pages.errors == []
        finally:
            await chromium.close()
            await pw.stop()
    run(main(), 180)


def test_thirty_students_trade_while_the_projector_follows(tmp_path):
    """30 students (clients with the page's feed and calls) trade against the background market (the
    classroom scenario's agents, live in the server); the projector lists them and shows the
    liquidations of the over-leveraged after the shock."""
    async def main() -> None:
        pw, chromium = await browser()
        rng = random.Random(30)
        try:
            async with classroom(tmp_path, THIRTY) as svc, aiohttp.ClientSession() as s:
                assert len(svc.game.roster) == 30 and svc.population is not None
                book = svc.exchange.books[BTC]
                await until(lambda: book.has_bid() and book.has_ask(), 30)
                base = f"http://127.0.0.1:{svc.http_port}/game"
                pages = Pages(chromium)
                projector = await pages.open(f"{base}/projector", 1600, 900)
                phone = await pages.open(f"{base}/", 390, 844, mobile=True)
                await log_in(phone, login_of(svc, "Student 01"))
                await Client(svc, s, key=ADMIN_KEY).post("/game/admin/start")
                feeds = [await s.ws_connect(f"ws://127.0.0.1:{svc.http_port}/game/ws?login={st.login}")
                         for st in svc.game.roster.students.values()]
                for st in svc.game.roster.students.values():
                    c = Client(svc, s, st.login)
                    lev = rng.choice([2, 5, 10, 20, 25])
                    if rng.random() < 0.5:
                        assert (await c.post("/game/api/margin-mode", {"symbol": BTC, "mode": "ISOLATED"}))[0] == 200
                    assert (await c.post("/game/api/leverage", {"symbol": BTC, "leverage": lev}))[0] == 200
                    qty = f"{rng.choice([0.05, 0.1, 0.2, 0.3]) * lev / 10:.3f}"
                    status, body = await c.post("/game/api/order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": qty})
                    assert status == 200, body
                await projector.wait_for_function("document.querySelectorAll('#board tr').length === 16")  # top 15
                await Client(svc, s, key=ADMIN_KEY).post("/game/admin/news", {"text": "Crash", "shock_pct": -10})
                await until(lambda: sum(t.liquidation_count for t in svc.game.board.tracks.values()) >= 3, 30)
                await projector.wait_for_function("document.querySelector('#liquidations').children.length >= 3")
                for ws in feeds:
                    assert not ws.closed  # every page kept up
                    await ws.close()
                assert pages.errors == []
        finally:
            await chromium.close()
            await pw.stop()
    run(main(), 180)
