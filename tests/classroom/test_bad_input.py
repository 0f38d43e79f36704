"""Every classroom endpoint refuses bad input with a plain sentence and an HTTP status, and journals
nothing for it."""

from __future__ import annotations

import aiohttp
import pytest

from .conftest import ADMIN_KEY, BTC, Client, classroom, login_of, run

STUDENT_BAD = [
    ("order", {"symbol": "DOGEUSDT", "side": "buy", "type": "MARKET", "qty": "0.1"}, 400, "unknown symbol"),
    ("order", {"symbol": BTC, "side": "up", "type": "MARKET", "qty": "0.1"}, 400, "Choose buy or sell."),
    ("order", {"symbol": BTC, "side": "buy", "type": "STOP", "qty": "0.1"}, 400, "Choose a limit or a market order."),
    ("order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "0.0005"}, 400, "not a multiple"),
    ("order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "-1"}, 400, "must be positive"),
    ("order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "1e400"}, 400, "out of range"),
    ("order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": 7}, 400, "must be str"),
    ("order", {"symbol": BTC, "side": "buy", "type": "LIMIT", "qty": "0.1"}, 400, "missing parameter 'price'"),
    ("order", {"symbol": BTC, "side": "buy", "type": "LIMIT", "qty": "0.1", "price": "abc"}, 400, "not a decimal"),
    ("order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "0.1", "reduce_only": "yes"}, 400, "must be bool"),
    ("order", {"symbol": BTC, "side": "buy", "type": "MARKET", "qty": "0.1", "stop_loss": "x" * 100}, 400, "decimal"),
    ("cancel", {"symbol": BTC, "order_id": -3}, 400, "outside"),
    ("cancel", {"symbol": BTC, "order_id": True}, 400, "must be int"),
    ("leverage", {"symbol": BTC, "leverage": 26}, 400, "from 1 to 25"),
    ("leverage", {"symbol": BTC, "leverage": True}, 400, "from 1 to 25"),
    ("leverage", {"symbol": BTC, "leverage": "20"}, 400, "from 1 to 25"),
    ("margin-mode", {"symbol": BTC, "mode": "PORTFOLIO"}, 400, "isolated and cross margin only"),
    ("margin", {"symbol": BTC, "amount": "0"}, 400, "Enter an amount"),
    ("margin", {"symbol": BTC, "amount": "12.0000001"}, 400, "not a multiple"),
    ("close", {"symbol": BTC}, 400, "You have no position in this market."),
    ("nothing", {}, 404, "There is no such action."),
]


def test_student_endpoints_refuse_bad_input_and_journal_nothing(tmp_path):
    async def main() -> None:
        async with classroom(tmp_path) as svc, aiohttp.ClientSession() as s:
            await Client(svc, s, key=ADMIN_KEY).post("/game/admin/start")
            ada = Client(svc, s, login_of(svc, "Ada"))
            seq = svc.exchange.seq
            for action, body, status, words in STUDENT_BAD:
                got, answer = await ada.post(f"/game/api/{action}", body)
                assert got == status and words in answer["error"], (action, body, got, answer)
            for raw, status, words in ((b"not json", 400, "not valid JSON"), (b"[1, 2]", 400, "a JSON object"),
                                       (b"{" + b" " * 5000 + b"}", 413, "too large"), (b"\xff\xfe", 400, "not valid JSON")):
                got, answer = await ada.post("/game/api/order", raw=raw)
                assert got == status and words in answer["error"], (raw[:10], got, answer)
            for login in ("", "nobody-here", "x" * 100, "ab'c-d\"ef"):
                got, answer = await Client(svc, s, login or "none").post("/game/api/order", {})
                assert got == 401 and "login is not known" in answer["error"]
            assert [e for e in svc.exchange.accounts] and svc.exchange.seq - seq <= 2 * 10  # index ticks only
            assert all(env_origin != "student:1" for env_origin in origins(svc))
    run(main())


def origins(svc) -> list[str]:
    from exchange.persistence import read_journal
    svc.sequencer.journal.flush()
    return [env.origin for env in read_journal(svc.run_dir / "journal.msgpack")]


@pytest.mark.parametrize("path,body,status,words", [
    ("start", {}, 401, "Wrong admin key."),
])
def test_teacher_endpoints_need_the_admin_key(tmp_path, path, body, status, words):
    async def main() -> None:
        async with classroom(tmp_path) as svc, aiohttp.ClientSession() as s:
            for key in ("", "wrong", ADMIN_KEY + "x"):
                for p in ("start", "pause", "end", "news", "param", "reset", "halt", "event", "roster"):
                    got, answer = await Client(svc, s, key=key or "-").post(f"/game/admin/{p}", body)
                    assert (got, answer["error"]) == (status, words), (p, key)
                for p in ("state", "results.csv", "report", "logins"):
                    got, _ = await Client(svc, s, key=key or "-").get(f"/game/admin/{p}")
                    assert got == 401
            assert svc.game.state == "lobby"
    run(main())


TEACHER_BAD = [
    ("pause", {}, 409, "Only a running game can be paused"),
    ("resume", {}, 409, "Only a paused game can be resumed"),
    ("end", {}, 409, "The game has not started yet."),
    ("halt", {"halted": "yes"}, 400, "Say halted: true or false."),
    ("news", {"text": "x" * 281}, 400, "at most 280 characters"),
    ("news", {"text": ""}, 400, "Write some news, give a shock, or both."),
    ("news", {"text": "hi", "symbol": "ETHUSDT"}, 400, "unknown symbol"),
    ("news", {"text": "hi", "shock_pct": -95}, 400, "shock_pct must be a number from -90 to 1000."),
    ("news", {"text": "hi", "shock_pct": "nan"}, 400, "shock_pct must be a number"),
    ("news", {"text": "hi", "over_s": 1e9}, 400, "over_s must be a number from 0 to 3600."),
    ("news", {"text": 5}, 400, "text must be str"),
    ("event", {"index": 3}, 400, "outside"),
    ("param", {"name": "max_leverage", "value": 126}, 400, "outside [1, 125]"),
    ("param", {"name": "max_leverage", "value": "9"}, 400, "must be int"),
    ("param", {"name": "mmr", "symbol": BTC, "value": "1"}, 400, "Unknown parameter"),
    ("param", {"name": "taker_fee_pct", "symbol": BTC, "value": "25"}, 400, "from 0 to 20"),
    ("param", {"name": "maint_margin_pct", "symbol": BTC, "value": "20.5"}, 400, "from 0 to 20"),
    ("param", {"name": "taker_fee_pct", "symbol": BTC, "value": "0.00001"}, 400, "not a multiple"),
    ("param", {"name": "taker_fee_pct", "symbol": "NOPE", "value": "0.1"}, 400, "unknown symbol"),
    ("roster", {"open": 1}, 400, "open must be bool"),
    ("reset", {"student": 99}, 404, "There is no student 99."),
    ("reset", {"student": "1"}, 400, "must be int"),
    ("launch", {}, 404, "There is no such action."),
]


def test_teacher_endpoints_refuse_bad_input(tmp_path):
    async def main() -> None:
        async with classroom(tmp_path) as svc, aiohttp.ClientSession() as s:
            teacher = Client(svc, s, key=ADMIN_KEY)
            for action, body, status, words in TEACHER_BAD:
                got, answer = await teacher.post(f"/game/admin/{action}", body)
                assert got == status and words in answer["error"], (action, body, got, answer)
            assert svc.game.state == "lobby" and not svc.game.news and svc.game.max_leverage == 25
            assert (await teacher.post("/game/admin/start"))[0] == 200
            assert (await teacher.post("/game/admin/start"))[0] == 409
            assert (await teacher.post("/game/admin/param", {"name": "taker_fee_pct", "symbol": BTC, "value": "0.1"}))[1] == \
                {"symbol": BTC, "name": "taker_fee_pct", "value": "0.1000"}
            assert svc.exchange.instruments[BTC].taker_fee_ppm == 1000
            before = svc.exchange.instruments[BTC].brackets
            assert (await teacher.post("/game/admin/param", {"name": "maint_margin_pct", "symbol": BTC, "value": "0.8"}))[1] \
                == {"symbol": BTC, "name": "maint_margin_pct", "value": "0.8000"}
            after = svc.exchange.instruments[BTC].brackets  # every tier's rate doubled with the first's (0.4% -> 0.8%)
            assert [b.mmr_ppm for b in after] == [2 * b.mmr_ppm for b in before] and after[0].mmr_ppm == 8_000
            assert (await teacher.post("/game/admin/param", {"name": "max_leverage", "value": 5}))[0] == 200
            got, answer = await Client(svc, s, login_of(svc, "Ada")).post("/game/api/leverage", {"symbol": BTC, "leverage": 6})
            assert (got, answer["error"]) == (400, "Leverage must be a whole number from 1 to 5 in this game.")
    run(main())


JOIN_BAD = [
    ({"name": "Cy", "code": "WRONG"}, 403, "That join code is not right."),
    ({"name": "Cy"}, 403, "That join code is not right."),
    ({"name": "<script>", "code": "JOIN-ME"}, 400, "Your name must be 1 to 24 letters"),
    ({"name": "x" * 25, "code": "JOIN-ME"}, 400, "Your name must be 1 to 24"),
    ({"name": "   ", "code": "JOIN-ME"}, 400, "Your name must be"),
    ({"name": 12, "code": "JOIN-ME"}, 400, "Your name must be text"),
    ({"name": "ada", "code": "JOIN-ME"}, 409, "already has that name"),
    ({"name": "Cy", "code": "JOIN-ME", "team": "Green"}, 400, "Choose one of the teams: Red, Blue."),
]


def test_joining_checks_the_code_the_name_and_the_team_and_closes(tmp_path):
    async def main() -> None:
        async with classroom(tmp_path) as svc, aiohttp.ClientSession() as s:
            anyone = Client(svc, s)
            for body, status, words in JOIN_BAD:
                got, answer = await anyone.post("/game/api/join", body)
                assert got == status and words in answer["error"], (body, got, answer)
            assert len(svc.game.roster) == 2
            got, answer = await anyone.post("/game/api/join", {"name": "  Cy   Young ", "code": "join-me", "team": "Blue"})
            assert got == 200 and answer["name"] == "Cy Young" and len(answer["login"]) == 9
            await Client(svc, s, key=ADMIN_KEY).post("/game/admin/roster", {"open": False})
            got, answer = await anyone.post("/game/api/join", {"name": "Dee", "code": "JOIN-ME"})
            assert (got, answer["error"]) == (403, "Joining is closed. Ask your teacher for your login.")
            got, _ = await anyone.get("/game/ws?login=nobody-0000")
            assert got == 401
    run(main())


def test_a_page_that_talks_on_the_feed_is_dropped_and_one_that_listens_is_not(tmp_path):
    async def main() -> None:
        async with classroom(tmp_path) as svc, aiohttp.ClientSession() as s:
            url = f"ws://127.0.0.1:{svc.http_port}/game/ws"
            quiet = await s.ws_connect(url)
            chatty = await s.ws_connect(f"{url}?login={login_of(svc, 'Ada')}")
            for _ in range(20):
                await chatty.send_str("hello?")
            closed = None
            while closed is None:
                msg = await chatty.receive(timeout=5)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    closed = msg
            assert chatty.close_code == 1008
            assert (await quiet.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT
            assert not quiet.closed and len(svc.game.feed.conns) == 1
            await quiet.close()
    run(main())
