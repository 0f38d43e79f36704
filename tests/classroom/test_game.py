"""The game over HTTP against a live exchange on 127.0.0.1: the lesson of cross and isolated margin
end to end, the live feed, the exports, and a replay from the run directory giving the same scores."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import aiohttp

from exchange.runtime.classroom.replay import replay_run
from exchange.runtime.classroom.report import results_csv

from .conftest import ADMIN_KEY, BTC, GAME, Client, classroom, login_of, market_maker, run, until


def test_isolated_20x_long_is_liquidated_for_its_margin_while_the_cross_long_survives(tmp_path):
    """Ada opens a 20x isolated long, Bob a 20x cross long of the same size; the teacher's -10% shock
    liquidates Ada only: her notice says what it cost (the isolated margin, 3% of her account), the
    board counts it, the projector's feed lists it, and the CSV, the report and a replay agree."""
    async def main() -> None:
        async with classroom(tmp_path) as svc, market_maker(svc), aiohttp.ClientSession() as s:
            game = svc.game
            teacher = Client(svc, s, key=ADMIN_KEY)
            ada, bob = Client(svc, s, login_of(svc, "Ada")), Client(svc, s, login_of(svc, "Bob"))
            base = f"ws://127.0.0.1:{svc.http_port}/game/ws"
            ada_ws = await s.ws_connect(f"{base}?login={login_of(svc, 'Ada')}")
            projector = await s.ws_connect(base)
            hello = json.loads((await ada_ws.receive()).data)
            assert hello["t"] == "hello" and hello["me"]["name"] == "Ada" and hello["me"]["equity"] == "10000.00"

            status, body = await ada.post("/game/api/order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "0.1"})
            assert (status, body) == (409, {"error": "The game has not started yet. Wait for your teacher."})
            assert (await teacher.post("/game/admin/start"))[0] == 200
            assert (await ada.post("/game/api/margin-mode", {"symbol": BTC, "mode": "ISOLATED"}))[0] == 200
            for who in (ada, bob):
                assert (await who.post("/game/api/leverage", {"symbol": BTC, "leverage": 20}))[1]["ok"]
            status, body = await ada.post("/game/api/order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "0.1"})
            assert body["message"] == "Bought 0.100 at 60060.00 on average.", body  # the maker's best ask
            assert (await bob.post("/game/api/order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "0.1"}))[0] == 200
            me = game.feed.me(game.roster.students[1])
            pos = me["positions"][0]
            # isolated margin = 6006 / 20; the taker fee 0.05% of 6006 = 3.003 comes from the wallet
            assert (pos["mode"], pos["leverage"], pos["isolated_margin"], me["wallet"]) == ("ISOLATED", 20, "300.30", "9997.00")
            bob_pos = game.feed.me(game.roster.students[2])["positions"][0]
            assert bob_pos["liquidation"] is None  # 10,000 USDT behind 0.1 BTC: no price liquidates it

            status, body = await teacher.post("/game/admin/news", {"text": "Crash!", "shock_pct": -10, "over_s": 0})
            assert status == 200 and body["text"] == "Crash!"
            await until(lambda: game.board.tracks[1].liquidation_count == 1, 20)
            liq = game.board.tracks[1].liquidations[0]
            assert (liq.mode, liq.side, liq.qty_lots, liq.leverage) == ("ISOLATED", 1, 100, 20)
            assert liq.wallet_before_cash == 9_996_997_000
            assert liq.cost_cash == 300_300_000  # the isolated margin, all of it: no more
            assert liq.cost_ppm == 30_039  # 3.0% of the wallet
            assert game.board.tracks[2].liquidation_count == 0

            notice = None
            while notice is None:
                msg = json.loads((await asyncio.wait_for(ada_ws.receive(), 10)).data)
                if msg["t"] == "me" and msg["notices"]:
                    notice = msg["notices"][0]
            assert notice["mode"] == "isolated" and notice["cost"] == "300.30" and notice["cost_pct"] == "3.0"
            assert notice["text"].startswith("Your 20x isolated long of 0.100 BTC was liquidated when the mark price reached")
            assert "Only the margin of that position was lost" in notice["text"]
            seen = None
            while seen is None:
                msg = json.loads((await asyncio.wait_for(projector.receive(), 10)).data)
                for item in msg.get("liquidations", []):
                    if item["who"] == "Ada":
                        seen = item
                if msg["t"] == "board":
                    rows = {r["name"]: r for r in msg["board"]["students"]}
                    if rows["Ada"]["liquidations"] != 1:
                        seen = None
            assert (seen["mode"], seen["side"], seen["qty"]) == ("isolated", "long", "0.100")

            assert (await teacher.post("/game/admin/end"))[0] == 200
            rows = list(csv.DictReader(io.StringIO((await teacher.get("/game/admin/results.csv"))[1])))
            by_name = {r["name"]: r for r in rows}
            assert by_name["Ada"]["isolated_liquidations"] == "1" and by_name["Ada"]["liquidation_cost_usdt"] == "300.30"
            assert by_name["Bob"]["liquidations"] == "0"
            status, report = await teacher.get("/game/admin/report")
            assert status == 200 and "The lesson: cross or isolated margin" in report and "3.0%" in report
            live = results_csv(game)
            await ada_ws.close()
            await projector.close()
        replayed = replay_run(svc.config, svc.game_config, tmp_path / "run")
        assert results_csv(replayed) == live
        assert [n["text"] for n in replayed.news] == ["Crash!"]
        assert replayed.state == "ended"
    run(main())


def test_a_restarted_game_resumes_paused_with_its_roster_clock_and_scores(tmp_path):
    async def main() -> None:
        async with classroom(tmp_path) as svc, market_maker(svc), aiohttp.ClientSession() as s:
            teacher = Client(svc, s, key=ADMIN_KEY)
            await teacher.post("/game/admin/start")
            ada = Client(svc, s, login_of(svc, "Ada"))
            assert (await ada.post("/game/api/order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "0.05"}))[0] == 200
            status, joined = await Client(svc, s).post("/game/api/join", {"name": "Cy", "code": "join-me", "team": "Red"})
            assert status == 200 and joined["name"] == "Cy"
            await asyncio.sleep(0.3)
            game = svc.game
        before = [(r["name"], r["team"], r["trades"]) for r in csv.DictReader(io.StringIO(results_csv(game)))]
        elapsed = game.elapsed()  # as journaled when the server stopped
        async with classroom(tmp_path) as svc2, aiohttp.ClientSession() as s:
            game = svc2.game
            assert game.state == "paused" and svc2.exchange.halted
            assert sorted(st.name for st in game.roster.students.values()) == ["Ada", "Bob", "Cy"]
            assert game.elapsed() == elapsed
            assert [(r["name"], r["team"], r["trades"]) for r in csv.DictReader(io.StringIO(results_csv(game)))] == before
            assert ("Ada", "Red", "1") in before
            cy = Client(svc2, s, joined["login"])
            assert (await cy.post("/game/api/login"))[1] == {"name": "Cy", "team": "Red"}
            assert (await Client(svc2, s, key=ADMIN_KEY).post("/game/admin/resume"))[0] == 200
            assert not svc2.exchange.halted
    run(main())


SHORT = GAME.replace("duration_min = 30", "duration_min = 2").replace("at_min = 20", "at_min = 0.2")


def test_the_clock_fires_scripted_events_stops_while_paused_and_ends_the_game(tmp_path):
    """At 20x clock speed: the scripted event (news and a -5% index shock) fires at minute 0.2, a pause
    halts trading and the clock, and at minute 2 the game ends by itself with its scores frozen."""
    async def main() -> None:
        async with classroom(tmp_path, SHORT, speed=20) as svc, aiohttp.ClientSession() as s:
            game = svc.game
            teacher = Client(svc, s, key=ADMIN_KEY)
            await teacher.post("/game/admin/start")
            await until(lambda: 0 in game.fired, 5)
            assert [n["text"] for n in game.news] == ["Scripted news"]
            assert svc.drivers[BTC].shocks[-1].pct == -5
            assert (await teacher.post("/game/admin/event", {"index": 0}))[1] == {"error": "That event has already happened."}
            assert (await teacher.post("/game/admin/pause"))[0] == 200
            paused_at = game.elapsed()
            await asyncio.sleep(0.5)
            assert game.elapsed() == paused_at and svc.exchange.halted
            ada = Client(svc, s, login_of(svc, "Ada"))
            got = await ada.post("/game/api/order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "0.1"})
            assert got == (409, {"error": "The game is paused. Wait for your teacher."})
            assert (await teacher.post("/game/admin/resume"))[0] == 200 and not svc.exchange.halted
            await until(lambda: game.state == "ended", 10)
            assert svc.exchange.halted and not game.scoring
            assert game.elapsed() == 120 * 10**9  # the clock stops at the duration
            states = [r["state"] for r in game.journal.records if r["e"] == "state"]
            assert states == ["running", "paused", "running", "ended"]
    run(main())


def test_halting_and_resetting_a_student(tmp_path):
    """Halt trading stops orders (in plain words) without stopping the clock; a reset gives a student a
    fresh account with the starting cash, closes the old position and keeps the login."""
    async def main() -> None:
        async with classroom(tmp_path) as svc, market_maker(svc), aiohttp.ClientSession() as s:
            game = svc.game
            teacher = Client(svc, s, key=ADMIN_KEY)
            await teacher.post("/game/admin/start")
            ada = Client(svc, s, login_of(svc, "Ada"))
            assert (await ada.post("/game/api/order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "0.2"}))[0] == 200
            assert (await teacher.post("/game/admin/halt", {"halted": True}))[1] == {"halted": True}
            got = await ada.post("/game/api/order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "0.1"})
            assert got == (400, {"error": "Trading is paused by the teacher."})
            assert game.state == "running" and game.elapsed() > 0
            assert (await teacher.post("/game/admin/halt", {"halted": False}))[1] == {"halted": False}
            old = game.roster.students[1].account
            status, body = await teacher.post("/game/admin/reset", {"student": 1})
            assert status == 200 and body["old_account"] == old and body["account"] != old
            assert svc.exchange.accounts[old].positions[BTC].size == 0  # closed at market
            new = svc.exchange.accounts[body["account"]]
            assert new.wallet_total() == 10_000 * 10**6 and game.roster.students[1].account == new.id
            assert (await ada.post("/game/api/login"))[1] == {"name": "Ada", "team": "Red"}
            rows = game.feed.board()["students"]
            assert [r["name"] for r in rows].count("Ada") == 1
            assert next(r for r in rows if r["name"] == "Ada")["equity"] == "10000.00"
    run(main())


def test_a_pause_holds_the_index_where_it_is_and_the_move_resumes_after(tmp_path):
    """A shock ramping the index down is stopped by the pause (no price moves while the class waits) and
    goes on from the same point when the teacher resumes."""
    async def main() -> None:
        async with classroom(tmp_path, speed=20) as svc, aiohttp.ClientSession() as s:
            teacher = Client(svc, s, key=ADMIN_KEY)
            await teacher.post("/game/admin/start")
            feed = svc.drivers[BTC]
            start = svc.exchange.markets[BTC].index
            assert (await teacher.post("/game/admin/news", {"text": "Crash", "shock_pct": -10, "over_s": 20}))[0] == 200
            await until(lambda: svc.exchange.markets[BTC].index < start * 0.99, 5)
            assert (await teacher.post("/game/admin/pause"))[0] == 200
            await asyncio.sleep(0.1)
            held = svc.exchange.markets[BTC].index
            await asyncio.sleep(0.5)  # 10 clock seconds at 20x: half the ramp
            assert svc.exchange.markets[BTC].index == held and feed.frozen
            assert held > start * 0.95
            assert (await teacher.post("/game/admin/resume"))[0] == 200
            await until(lambda: svc.exchange.markets[BTC].index <= round(start * 0.9) + 1, 5)
    run(main())
