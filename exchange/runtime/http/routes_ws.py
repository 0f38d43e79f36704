"""WebSocket endpoints: raw `/ws/<stream>` and combined `/stream?streams=a/b`, also under Binance's
`/public`, `/market` and `/private` prefixes; a user data stream by listenKey (`/ws/<listenKey>` or
`?listenKey=`). SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY/GET_PROPERTY "combined"."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web

from ..session import TokenBucket
from .binance.errors import INVALID_LISTEN_KEY, error
from .incoming import api_of
from .streams import Connection

routes = web.RouteTableDef()
MAX_MESSAGE_BYTES = 16 * 1024
MESSAGES_PER_S = 10.0  # Binance's limit of incoming messages per connection
MAX_NAMES = 200


def _names(text: str) -> list[str]:
    return [n for n in text.split("/") if n][:MAX_NAMES]


async def websocket(request: web.Request) -> web.StreamResponse:
    api = api_of(request)
    streams = api.streams
    assert streams is not None
    path = request.path
    combined = path.endswith("/stream")
    tail = request.match_info.get("tail", "")
    names = _names(request.query.get("streams", "")) if combined else _names(tail)
    listen_key = request.query.get("listenKey")
    if listen_key is not None and streams.listen_keys.account_of(listen_key) is None:
        raise error(INVALID_LISTEN_KEY)
    if listen_key is None:
        listen_key = next((n for n in names if streams.listen_keys.account_of(n) is not None), None)
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True)
    await ws.prepare(request)
    conn = Connection(ws, combined, api.options.ws_max_outbox_bytes, request.transport)
    streams.conns.add(conn)
    writer = asyncio.get_running_loop().create_task(conn.write())
    bucket = TokenBucket(MESSAGES_PER_S, 2 * MESSAGES_PER_S)

    def attach() -> None:
        if listen_key is not None:
            streams.attach_user(conn, listen_key)
        streams.subscribe(conn, [n for n in names if n != listen_key])
    try:
        await api.read(attach)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            if not bucket.take():
                conn.drop("too many messages: at most 10 per second")
                break
            reply = await _request(api, conn, msg.data)
            if reply is not None:
                conn.push(json.dumps(reply, separators=(",", ":")))
    finally:
        await api.read(lambda: streams.detach(conn))
        await conn.finish(writer)
    return ws


async def _request(api: Any, conn: Connection, text: str) -> dict[str, Any] | None:
    """One control message; the answer (or a Binance WebSocket error: 1 bad value, 2 bad request, 3 bad JSON)."""
    streams = api.streams
    try:
        msg = json.loads(text)
    except ValueError:
        return {"error": {"code": 3, "msg": "Invalid JSON"}}
    if not isinstance(msg, dict):
        return {"error": {"code": 2, "msg": "Invalid request"}}
    rid = msg.get("id")
    if rid is not None and not (isinstance(rid, (int, str)) and not isinstance(rid, bool) and len(str(rid)) <= 64):
        return {"error": {"code": 1, "msg": "Invalid value type: id"}}
    method = msg.get("method")
    params = msg.get("params", [])
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        if not isinstance(params, list) or len(params) > MAX_NAMES or not all(isinstance(p, str) and len(p) <= 64 for p in params):
            return {"error": {"code": 1, "msg": "Invalid value type: params"}, "id": rid}
        if method == "SUBSCRIBE":
            await api.read(lambda: streams.subscribe(conn, params))
        else:
            await api.read(lambda: streams.unsubscribe(conn, params))
        return {"result": None, "id": rid}
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": sorted(conn.streams), "id": rid}
    if method == "SET_PROPERTY":
        if params != ["combined", True] and params != ["combined", False]:
            return {"error": {"code": 0, "msg": "Unknown property"}, "id": rid}
        conn.combined = params[1]
        return {"result": None, "id": rid}
    if method == "GET_PROPERTY":
        if params != ["combined"]:
            return {"error": {"code": 0, "msg": "Unknown property"}, "id": rid}
        return {"result": conn.combined, "id": rid}
    return {"error": {"code": 2, "msg": "Invalid request: unknown method"}, "id": rid}


for prefix in ("", "/public", "/market", "/private"):
    routes.get(f"{prefix}/ws")(websocket)
    routes.get(prefix + "/ws/{tail:.*}")(websocket)
    routes.get(f"{prefix}/stream")(websocket)
