"""The HTTP + WebSocket server: one aiohttp application on the exchange's event loop and port
`[http] port`, in front of the same sequencer as the msgpack gateway.

Routes live in routes_*.py and only move bytes; the Binance translation is in binance/ (I/O-free).
A request's failure is that request's answer, in Binance's error shape: a BinanceError keeps its
code and status, anything else is -1000 with HTTP 500 (and a log line); the server goes on.
The classroom's pages and API (runtime/classroom/routes.py) are one more of ROUTE_TABLES.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..classroom import routes as routes_classroom
from . import routes_account, routes_admin, routes_market, routes_trade, routes_ws
from .api import Api
from .binance.errors import NOT_FOUND, UNKNOWN, BinanceError
from .incoming import API, answer
from .streams import Streams

if TYPE_CHECKING:
    from ..hub import Hub

ROUTE_TABLES = (routes_market.routes, routes_trade.routes, routes_account.routes, routes_admin.routes, routes_ws.routes,
                routes_classroom.routes)


@web.middleware
async def binance_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except BinanceError as exc:
        return answer(exc.body(), exc.status)
    except web.HTTPException as exc:
        if exc.status in (404, 405):
            return answer({"code": NOT_FOUND, "msg": f"{request.method} {request.path[:100]} is not supported."},
                          exc.status)
        if exc.status == 413:
            return answer({"code": -1101, "msg": "Request body too large."}, 413)
        raise
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception as exc:  # a bug in one request: that request fails, the exchange goes on
        request.app[API].log.exception("http request failed", path=request.path[:100], error=repr(exc))
        return answer({"code": UNKNOWN, "msg": f"An unknown error occurred while processing the request ({type(exc).__name__})."},
                      500)


class HttpServer:
    """Started and stopped by ExchangeService; listens while the exchange runs."""

    def __init__(self, api: Api, hub: Hub) -> None:
        self.api = api
        self.streams = Streams(api)
        api.streams = self.streams
        hub.listeners.append(self.streams.on_events)
        self.app = web.Application(middlewares=[binance_errors], client_max_size=api.options.max_body_bytes)
        self.app[API] = api
        for table in ROUTE_TABLES:
            self.app.add_routes(table)
        self.runner: web.AppRunner | None = None
        self.port = 0
        self._ticker: asyncio.Task | None = None

    async def start(self) -> None:
        opts = self.api.options
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, opts.host, opts.port, reuse_address=True, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ticker = asyncio.get_running_loop().create_task(self.streams.run_ticker(), name="http-ticker")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        for conn in list(self.streams.conns):
            conn.drop("server shutting down")
        if self.runner is not None:
            await self.runner.cleanup()
