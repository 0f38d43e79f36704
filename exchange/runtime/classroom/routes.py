"""The classroom over HTTP: the pages (package data, served as they are), the students' JSON API
(header X-Game-Login), the teacher's (header X-Admin-Key) and the live feed's WebSocket.

Every body is a JSON object of at most MAX_BODY bytes; every refusal is {"error": "<a sentence>"} with
an HTTP status. With no game running on the server, every route answers 404.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from ..http.binance.errors import BinanceError
from ..http.incoming import api_of
from ..http.streams import Connection
from ..session import TokenBucket
from . import trading
from .feed import OUTBOX_BYTES
from .game import Game, GameError
from .report import logins_html, report_html, results_csv
from .roster import Student

routes = web.RouteTableDef()
MAX_BODY = 4096
PAGES = {"": "student.html", "projector": "projector.html", "teacher": "teacher.html"}
ASSETS = {"style.css": "text/css", "common.js": "text/javascript", "chart.js": "text/javascript",
          "student.js": "text/javascript", "projector.js": "text/javascript", "teacher.js": "text/javascript"}
WS_MESSAGES_PER_S = 5.0


def _static(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


def game_of(request: web.Request) -> Game:
    game = api_of(request).game
    if game is None:
        raise GameError("No game is running on this server.", 404)
    return game


def refused(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


def handled(fn: Any) -> Any:
    """GameError and the API's limits (429, 503) as {"error": sentence} answers."""
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except GameError as exc:
            return refused(exc.message, exc.status)
        except BinanceError as exc:
            words = {429: "Too many requests: slow down a little.", 401: "Wrong admin key.",
                     503: "The exchange is very busy: try again in a moment."}
            return refused(words.get(exc.status, exc.msg), exc.status)
    wrapper.__name__ = fn.__name__
    return wrapper


async def body_of(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise GameError(f"The request is too large (at most {MAX_BODY} bytes).", 413)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise GameError("The request is not valid JSON.") from None
    if not isinstance(body, dict):
        raise GameError("The request must be a JSON object.")
    return body


def student_of(request: web.Request, game: Game) -> Student:
    login = request.headers.get("X-Game-Login", "")
    student = game.roster.find(login.strip().lower()) if len(login) <= 64 else None
    if student is None:
        raise GameError("That login is not known in this game. Check it, or ask your teacher.", 401)
    return student


def teacher(request: web.Request) -> Game:
    game = game_of(request)
    game.api.admin(request.headers.get("X-Admin-Key"))
    return game


# -- pages -------------------------------------------------------------------------------------
@routes.get("/game")
async def game_root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/game/")


async def page(request: web.Request) -> web.StreamResponse:
    name = PAGES[request.path.removeprefix("/game/")]
    return web.Response(body=_static(name), content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


for _path in PAGES:
    routes.get(f"/game/{_path}")(page)


@routes.get("/game/static/{name}")
async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    kind = ASSETS.get(name)
    if kind is None:
        raise web.HTTPNotFound()
    return web.Response(body=_static(name), content_type=kind, charset="utf-8", headers={"Cache-Control": "no-cache"})


# -- students ----------------------------------------------------------------------------------
@routes.post("/game/api/join")
@handled
async def join(request: web.Request) -> web.Response:
    game = game_of(request)
    game.api.admit(f"ip{request.remote}")
    student = await game.join(await body_of(request))
    return web.json_response({"login": student.login, "name": student.name, "team": student.team})


@routes.post("/game/api/login")
@handled
async def login(request: web.Request) -> web.Response:
    game = game_of(request)
    game.api.admit(f"ip{request.remote}")
    student = student_of(request, game)
    return web.json_response({"name": student.name, "team": student.team})


STUDENT_ACTIONS = {"order": trading.place, "cancel": trading.cancel, "close": trading.close_position,
                   "leverage": trading.set_leverage, "margin-mode": trading.set_margin_mode,
                   "margin": trading.adjust_margin}


@routes.post("/game/api/{action}")
@handled
async def student_action(request: web.Request) -> web.Response:
    action = STUDENT_ACTIONS.get(request.match_info["action"])
    if action is None:
        raise GameError("There is no such action.", 404)
    game = game_of(request)
    student = student_of(request, game)
    return web.json_response(await action(game, student, await body_of(request)))


# -- the teacher -------------------------------------------------------------------------------
async def _lifecycle(game: Game, body: dict[str, Any], action: str) -> dict[str, Any]:
    await {"start": game.begin, "pause": game.pause, "resume": game.resume, "end": game.end}[action]()
    return {"status": game.status()}


async def _halt(game: Game, body: dict[str, Any], action: str) -> dict[str, Any]:
    halted = body.get("halted")
    if type(halted) is not bool:
        raise GameError("Say halted: true or false.")
    return {"halted": await game.halt(halted)}


TEACHER_ACTIONS = {
    "start": _lifecycle, "pause": _lifecycle, "resume": _lifecycle, "end": _lifecycle, "halt": _halt,
    "news": lambda g, b, a: g.news_now(b), "event": lambda g, b, a: g.fire_now(b),
    "param": lambda g, b, a: g.set_param(b), "roster": lambda g, b, a: g.set_roster_open(b),
    "reset": lambda g, b, a: g.reset(b),
}


@routes.post("/game/admin/{action}")
@handled
async def teacher_action(request: web.Request) -> web.Response:
    name = request.match_info["action"]
    action = TEACHER_ACTIONS.get(name)
    if action is None:
        raise GameError("There is no such action.", 404)
    game = teacher(request)
    return web.json_response(await action(game, await body_of(request), name))


@routes.get("/game/admin/state")
@handled
async def teacher_state(request: web.Request) -> web.Response:
    """The roster with logins and accounts, the scripted events, the instrument parameters."""
    game = teacher(request)

    def read() -> dict[str, Any]:
        students = [{"id": s.id, "name": s.name, "team": s.team, "login": s.login, "account": s.account}
                    for s in game.roster.students.values()]
        events = [{"index": i, "at_min": e.at_min, "news": e.news, "symbol": e.symbol, "shock_pct": e.shock_pct,
                   "over_s": e.over_s, "fired": i in game.fired} for i, e in enumerate(game.cfg.events)]
        params = {s: {"maker_fee_pct": str(i.maker_fee_ppm / 10_000), "taker_fee_pct": str(i.taker_fee_ppm / 10_000),
                      "liquidation_fee_pct": str(i.liquidation_fee_ppm / 10_000),
                      "price_band_pct": str(i.price_band_ppm / 10_000), "market_band_pct": str(i.market_band_ppm / 10_000),
                      "maint_margin_pct": str(i.brackets[0].mmr_ppm / 10_000)}
                  for s, i in game.ex.instruments.items() if s in game.instruments}
        return {"students": students, "events": events, "params": params, "status": game.status(),
                "join_code": game.cfg.join_code}
    return web.json_response(await game.api.read(read))


@routes.get("/game/admin/results.csv")
@handled
async def results(request: web.Request) -> web.Response:
    game = teacher(request)
    text = await game.api.read(lambda: results_csv(game))
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="results.csv"'})


@routes.get("/game/admin/report")
@handled
async def report(request: web.Request) -> web.Response:
    game = teacher(request)
    return web.Response(text=await game.api.read(lambda: report_html(game)), content_type="text/html", charset="utf-8")


@routes.get("/game/admin/logins")
@handled
async def logins(request: web.Request) -> web.Response:
    game = teacher(request)
    url = f"http://{request.host}/game/"
    return web.Response(text=await game.api.read(lambda: logins_html(game, url)), content_type="text/html",
                        charset="utf-8")


# -- the live feed -----------------------------------------------------------------------------
@routes.get("/game/ws")
@handled
async def feed(request: web.Request) -> web.StreamResponse:
    """Push-only: a page sends nothing (anything it sends is read and dropped, at most a few a second)."""
    game = game_of(request)
    game.api.admit(f"ip{request.remote}")
    student = None
    if "login" in request.query:
        login = request.query["login"]
        student = game.roster.find(login.strip().lower()) if len(login) <= 64 else None
        if student is None:
            raise GameError("That login is not known in this game.", 401)
    ws = web.WebSocketResponse(max_msg_size=1024, heartbeat=30.0)
    await ws.prepare(request)
    conn = Connection(ws, False, OUTBOX_BYTES, request.transport)
    writer = asyncio.get_running_loop().create_task(conn.write())
    bucket = TokenBucket(WS_MESSAGES_PER_S, 2 * WS_MESSAGES_PER_S)
    try:
        await game.api.read(lambda: game.feed.attach(conn, student))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and not bucket.take():
                conn.drop("a page sends nothing: too many messages")
                break
    finally:
        await game.api.read(lambda: game.feed.detach(conn))
        await conn.finish(writer)
    return ws
