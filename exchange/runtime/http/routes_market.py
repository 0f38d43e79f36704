"""Public market data, Binance USDⓈ-M shapes: /fapi/v1/ping, time, exchangeInfo, depth, trades,
aggTrades, klines, premiumIndex, fundingRate, fundingInfo, ticker/24hr, ticker/price, ticker/bookTicker,
openInterest; /api/v3/ping and time (python-binance's constructor pings the spot API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from ...core import views
from ...core.commands import BUY, SELL
from .binance import shapes
from .binance.errors import BAD_INTERVAL, error
from .binance.params import Params
from .history import INTERVALS_MIN, merge_candles
from .incoming import answer, api_of, public

routes = web.RouteTableDef()
MAX_DEPTH = 1000


@routes.get("/fapi/v1/ping")
@routes.get("/api/v3/ping")
async def ping(request: web.Request) -> web.Response:
    await public(request)
    return answer({})


@routes.get("/fapi/v1/time")
@routes.get("/api/v3/time")
async def server_time(request: web.Request) -> web.Response:
    await public(request)
    return answer({"serverTime": api_of(request).wall_ms()})


@routes.get("/fapi/v1/exchangeInfo")
async def exchange_info(request: web.Request) -> web.Response:
    await public(request)
    api = api_of(request)
    per_minute = int(api.options.rate_limit_per_s * 60)
    return answer(await api.read(lambda: shapes.exchange_info(api.ex.instruments, api.wall_ms(), per_minute)))


@routes.get("/fapi/v1/depth")
async def depth(request: web.Request) -> web.Response:
    params = await public(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    limit = params.integer("limit", 1, MAX_DEPTH, 500)

    def read() -> dict[str, Any]:
        book = api.ex.books[inst.symbol]
        return shapes.depth(book.depth(BUY, limit), book.depth(SELL, limit), inst, api.ex.seq, api.now_ms())
    return answer(await api.read(read))


def _limit(params: Params, default: int, hi: int) -> int:
    return params.integer("limit", 1, hi, default)


@routes.get("/fapi/v1/trades")
async def trades(request: web.Request) -> web.Response:
    params = await public(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    limit = _limit(params, 500, 1000)
    rows = await api.read(lambda: list(api.history.trades[inst.symbol])[-limit:])
    return answer([shapes.trade(t, inst) for t in rows])


@routes.get("/fapi/v1/aggTrades")
async def agg_trades(request: web.Request) -> web.Response:
    params = await public(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    limit = _limit(params, 500, 1000)
    from_id = params.optional_integer("fromId", 0, 2**62)
    start = params.optional_integer("startTime", 0, 2**53)
    end = params.optional_integer("endTime", 0, 2**53)
    rows = await api.read(lambda: list(api.history.trades[inst.symbol]))
    groups = [g for g in shapes.aggregate(rows)
              if (from_id is None or g[0].trade_id >= from_id) and (start is None or g[0].time_ms >= start)
              and (end is None or g[0].time_ms <= end)]
    groups = groups[:limit] if from_id is not None or start is not None else groups[-limit:]
    return answer([shapes.agg_trade(g, inst) for g in groups])


@routes.get("/fapi/v1/klines")
async def klines(request: web.Request) -> web.Response:
    params = await public(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    interval = params.text("interval")
    if interval not in INTERVALS_MIN:
        raise error(BAD_INTERVAL)
    interval_ms = INTERVALS_MIN[interval] * 60_000
    limit = _limit(params, 500, 1500)
    start = params.optional_integer("startTime", 0, 2**53)
    end = params.optional_integer("endTime", 0, 2**53)
    candles = await api.read(lambda: [list(c) for c in api.history.candles[inst.symbol]
                                      if (start is None or c[0] >= start - interval_ms) and (end is None or c[0] <= end)])
    merged = [c for c in merge_candles(candles, interval_ms)
              if (start is None or c[0] >= start) and (end is None or c[0] <= end)]
    merged = merged[:limit] if start is not None else merged[-limit:]
    return answer([shapes.kline_row(c, interval_ms, inst) for c in merged])


async def per_symbol(request: web.Request, row: Callable[[Any, str, int], dict[str, Any]]) -> web.Response:
    """A public endpoint of one row per symbol: `symbol` given, that row; else a list of every symbol's.
    `row(api, symbol, now_ms)` runs in the sequencer."""
    params = await public(request)
    api = api_of(request)
    inst = params.optional_symbol(api.ex.instruments)
    symbols = [inst.symbol] if inst else list(api.ex.instruments)

    def read() -> list[dict[str, Any]]:
        ms = api.now_ms()
        return [row(api, s, ms) for s in symbols]
    rows = await api.read(read)
    return answer(rows[0] if inst else rows)


@routes.get("/fapi/v1/premiumIndex")
async def premium_index(request: web.Request) -> web.Response:
    return await per_symbol(request, lambda api, s, ms: shapes.premium_index(views.funding_view(api.ex, s),
                                                                             api.ex.instruments[s], ms))


@routes.get("/fapi/v1/fundingRate")
async def funding_rate(request: web.Request) -> web.Response:
    params = await public(request)
    api = api_of(request)
    inst = params.optional_symbol(api.ex.instruments)
    limit = _limit(params, 100, 1000)
    start = params.optional_integer("startTime", 0, 2**53)
    end = params.optional_integer("endTime", 0, 2**53)
    symbols = [inst.symbol] if inst else list(api.ex.instruments)
    rows = await api.read(lambda: [(s, r) for s in symbols for r in api.history.funding[s]])
    rows = sorted((r for r in rows if (start is None or r[1][0] >= start) and (end is None or r[1][0] <= end)),
                  key=lambda r: r[1][0])
    rows = rows[:limit] if start is not None else rows[-limit:]
    return answer([shapes.funding_rate(r, api.ex.instruments[s]) for s, r in rows])


@routes.get("/fapi/v1/fundingInfo")
async def funding_info(request: web.Request) -> web.Response:
    await public(request)
    api = api_of(request)
    return answer([{"symbol": s, "adjustedFundingRateCap": shapes.rate_e8(i.funding_cap_e8),
                    "adjustedFundingRateFloor": shapes.rate_e8(-i.funding_cap_e8),
                    "fundingIntervalHours": i.funding_interval_ns // 3_600_000_000_000, "disclaimer": False}
                   for s, i in api.ex.instruments.items()])


@routes.get("/fapi/v1/ticker/24hr")
async def ticker_24hr(request: web.Request) -> web.Response:
    def row(api: Any, s: str, now: int) -> dict[str, Any]:
        candles = [c for c in api.history.candles[s] if c[0] > now - 86_400_000]
        trades = api.history.trades[s]
        return shapes.ticker_24hr(candles, trades[-1] if trades else None, api.ex.instruments[s], now)
    return await per_symbol(request, row)


@routes.get("/fapi/v1/ticker/price")
@routes.get("/fapi/v2/ticker/price")
async def ticker_price(request: web.Request) -> web.Response:
    return await per_symbol(request, lambda api, s, ms: {
        "symbol": s, "price": shapes.px(api.ex.markets[s].last, api.ex.instruments[s]), "time": ms})


def book_ticker_of(api: Any, symbol: str, ms: int) -> dict[str, Any]:
    book = api.ex.books[symbol]
    t = views.ticker_view(api.ex, symbol)
    return shapes.book_ticker(t, book.level_qty(BUY, book.best_bid) if book.has_bid() else 0,
                              book.level_qty(SELL, book.best_ask) if book.has_ask() else 0, api.ex.instruments[symbol],
                              api.ex.seq, ms)


@routes.get("/fapi/v1/ticker/bookTicker")
async def book_ticker(request: web.Request) -> web.Response:
    return await per_symbol(request, book_ticker_of)


@routes.get("/fapi/v1/openInterest")
async def open_interest(request: web.Request) -> web.Response:
    params = await public(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    longs = await api.read(lambda: sum(p.size for p in api.ex.holders[inst.symbol].values() if p.size > 0))
    return answer({"openInterest": shapes.qty(longs, inst), "symbol": inst.symbol, "time": api.now_ms()})
