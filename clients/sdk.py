"""Asyncio client for the liquidex exchange, with ccxt-style method names.

    async with Client("127.0.0.1", 7777, api_key="lk_...") as ex:
        order = await ex.create_order("BTCUSDT", "limit", "buy", "0.010", "29950.0")
        book = await ex.watch_order_book("BTCUSDT")      # waits for the next update

Prices and amounts may be given as str, int or Decimal (floats are formatted with repr, so prefer
strings); results are frozen dataclasses (clients/results.py) with Decimal fields and the raw wire
map in `info`. A server error raises ExchangeError carrying the server's stable `code` (e.g.
INSUFFICIENT_MARGIN, RATE_LIMITED). The connection is re-opened after a drop (with hello, login and every subscription again); requests
that were in flight fail with code DISCONNECTED. Stream messages can also be consumed raw with
`add_listener(callback)`. See docs/protocol.md for the wire format.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Self

from exchange.wire.codec import Decoder, FrameError, encode

from .results import AccountKey, Balance, Liquidation, Market, Order, OrderBook, Position, Ticker, Trade

PROTOCOL_VERSION = 1
MAX_BUFFERED = 10_000  # stream messages kept per channel between two watch_* calls
Listener = Callable[[dict], None]


class ExchangeError(Exception):
    """An error answer of the server (or DISCONNECTED / TIMEOUT from the client itself)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _s(value: Any) -> str:
    """A decimal string for the wire."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


# -- the client ---------------------------------------------------------------------------------
class _LocalBook:
    __slots__ = ("asks", "bids", "seq")

    def __init__(self, snap: dict) -> None:
        self.seq = snap["seq"]
        self.bids = {Decimal(p): Decimal(q) for p, q in snap["bids"]}
        self.asks = {Decimal(p): Decimal(q) for p, q in snap["asks"]}

    def apply(self, msg: dict) -> None:
        for levels, updates in ((self.bids, msg["bids"]), (self.asks, msg["asks"])):
            for p, q in updates:
                price, qty = Decimal(p), Decimal(q)
                if qty:
                    levels[price] = qty
                else:
                    levels.pop(price, None)
        self.seq = msg["seq"]

    def view(self, symbol: str, limit: int | None = None) -> OrderBook:
        bids = sorted(self.bids.items(), reverse=True)[:limit]
        asks = sorted(self.asks.items())[:limit]
        return OrderBook(symbol, self.seq, bids, asks)


class _Inbox:
    """Stream messages of one channel waiting for a watch_* call (the oldest dropped past MAX_BUFFERED)."""

    __slots__ = ("arrived", "messages")

    def __init__(self) -> None:
        self.messages: deque[dict] = deque(maxlen=MAX_BUFFERED)
        self.arrived = asyncio.Event()


class Client:
    """One connection to the exchange. Methods are coroutines; use one Client per asyncio loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 7777, api_key: str | None = None, *,
                 reconnect: bool = True, timeout: float = 10.0, max_reconnect_attempts: int = 50) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.reconnect = reconnect
        self.timeout = timeout
        self.max_reconnect_attempts = max_reconnect_attempts
        self.account: int | None = None
        self.admin = False
        self.markets: dict[str, Market] = {}
        self.books: dict[str, _LocalBook] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._next_id = 1
        self._subscriptions: dict[tuple[str, str], None] = {}
        self._inboxes: dict[tuple[str, str], _Inbox] = {}
        self._listeners: list[Listener] = []
        self._closing = False
        self._connected = asyncio.Event()
        self.reconnects = 0
        self.last_error: Exception | None = None  # what a listener raised, if one did

    # -- connection ----------------------------------------------------------------------------
    async def connect(self) -> Self:
        """Open the connection, say hello and log in with the API key (if one was given)."""
        self._closing = False
        await self._open()
        return self

    async def __aenter__(self) -> Self:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
        self._fail_pending("DISCONNECTED", "client closed")

    async def _open(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        self._writer = writer
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop(reader))
        await self.request("hello", version=PROTOCOL_VERSION)
        if self.api_key:
            res = await self.request("login", api_key=self.api_key)
            self.account, self.admin = res["account"], res["admin"]
        self._connected.set()

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        decoder = Decoder(16 * 1024 * 1024)
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                for msg in decoder.feed(data):
                    self._dispatch(msg)
        except (ConnectionError, FrameError, OSError):
            pass
        except Exception as exc:  # noqa: BLE001 - a listener raised: drop this connection rather than hang
            self.last_error = exc
            self._writer.close()
        self._connected.clear()
        self._fail_pending("DISCONNECTED", "connection lost")
        if self.reconnect and not self._closing:
            asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.05
        for _ in range(self.max_reconnect_attempts):
            if self._closing:
                return
            await asyncio.sleep(delay)
            try:
                await self._open()
                for channel, symbol in list(self._subscriptions):
                    await self._subscribe(channel, symbol)
                self.reconnects += 1
                return
            except (TimeoutError, OSError, ExchangeError):
                delay = min(2.0, delay * 2)

    def _fail_pending(self, code: str, message: str) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ExchangeError(code, message))

    # -- requests ------------------------------------------------------------------------------
    async def request(self, op: str, **params: Any) -> Any:
        """Send one request and return its result (raises ExchangeError with the server's code)."""
        if self._writer is None or self._writer.is_closing():
            if self.reconnect and not self._closing and op not in ("hello", "login"):
                try:
                    await asyncio.wait_for(self._connected.wait(), self.timeout)
                except TimeoutError:
                    raise ExchangeError("DISCONNECTED", f"not reconnected within {self.timeout}s") from None
            else:
                raise ExchangeError("DISCONNECTED", "not connected")
        rid = self._next_id
        self._next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        params["op"] = op
        params["id"] = rid
        self._writer.write(encode(params))
        try:
            return await asyncio.wait_for(fut, self.timeout)
        except TimeoutError:
            raise ExchangeError("TIMEOUT", f"no answer to {op} within {self.timeout}s") from None
        finally:
            self._pending.pop(rid, None)

    def _dispatch(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "result" or kind == "error":
            fut = self._pending.pop(msg.get("id"), None)
            if fut is None or fut.done():
                if kind == "error":
                    for listener in self._listeners:
                        listener(msg)
                return
            if kind == "result":
                fut.set_result(msg["result"])
            else:
                fut.set_exception(ExchangeError(msg["code"], msg["message"]))
            return
        symbol = msg.get("symbol", "")
        if kind == "book":
            book = self.books.get(symbol)
            if book is None:
                return
            if msg["seq"] != book.seq + 1:  # a gap: start again from a fresh snapshot
                del self.books[symbol]
                asyncio.get_running_loop().create_task(self._subscribe("book", symbol))
                return
            book.apply(msg)
        for listener in self._listeners:
            listener(msg)
        if kind == "private":
            event = msg.get("event")
            self._deliver(("private", ""), msg)
            if event in _ORDER_EVENTS:
                self._deliver(("private", "orders"), msg)
            elif event in _POSITION_EVENTS:
                self._deliver(("private", "positions"), msg)
        else:
            self._deliver((kind, symbol), msg)

    def _deliver(self, key: tuple[str, str], msg: dict) -> None:
        inbox = self._inboxes.get(key)
        if inbox is not None:
            inbox.messages.append(msg)
            inbox.arrived.set()

    def add_listener(self, callback: Listener) -> None:
        """Call `callback(msg)` with every stream message (book, trades, ticker, funding, liquidation,
        private, status) as a raw wire map, in arrival order."""
        self._listeners.append(callback)

    async def subscribe(self, channel: str, symbol: str | None = None) -> Any:
        """Subscribe to a channel (book, trades, ticker, liquidations, private); kept across reconnects."""
        self._subscriptions[(channel, symbol or "")] = None
        key = ("private", "") if channel == "private" else (_MSG_TYPE.get(channel, channel), symbol or "")
        self._inboxes.setdefault(key, _Inbox())
        return await self._subscribe(channel, symbol or "")

    async def unsubscribe(self, channel: str, symbol: str | None = None) -> None:
        self._subscriptions.pop((channel, symbol or ""), None)
        if channel == "book":
            self.books.pop(symbol or "", None)
        await self.request("unsubscribe", channel=channel, symbol=symbol)

    async def _subscribe(self, channel: str, symbol: str) -> Any:
        res = await self.request("subscribe", channel=channel, symbol=symbol or None)
        if channel == "book":
            self.books[symbol] = _LocalBook(res)
        return res

    async def _next(self, channel: str, symbol: str) -> list[dict]:
        """The stream messages of a channel since the previous call, waiting for at least one.
        For the private channel, `symbol` names a view: "" (all), "orders" or "positions"."""
        key = ("private", symbol) if channel == "private" else (_MSG_TYPE[channel], symbol)
        inbox = self._inboxes.setdefault(key, _Inbox())
        if channel == "private":
            symbol = ""
        if (channel, symbol) not in self._subscriptions:
            await self.subscribe(channel, symbol or None)
        while not inbox.messages:
            inbox.arrived.clear()
            await inbox.arrived.wait()
        out = list(inbox.messages)
        inbox.messages.clear()
        return out

    # -- trading (ccxt names) ------------------------------------------------------------------
    async def create_order(self, symbol: str, type: str, side: str, amount: Any, price: Any = None,
                           params: dict | None = None) -> Order:
        """Place an order. type: limit, market, stop, stop_market, take_profit, take_profit_market.
        params: client_order_id, tif (GTC/IOC/FOK/GTX), post_only, reduce_only, stop_price,
        working_type (MARK_PRICE/CONTRACT_PRICE), stp (NONE/EXPIRE_TAKER/EXPIRE_MAKER/EXPIRE_BOTH)."""
        req: dict[str, Any] = {"symbol": symbol, "type": type, "side": side, "qty": _s(amount)}
        if price is not None:
            req["price"] = _s(price)
        for key, value in (params or {}).items():
            req[_PARAM_ALIASES.get(key, key)] = _s(value) if key in ("stop_price", "stopPrice") else value
        return Order.from_wire(await self.request("place", **req))

    async def cancel_order(self, id: int, symbol: str) -> Order:
        return Order.from_wire(await self.request("cancel", symbol=symbol, order_id=id))

    async def cancel_all_orders(self, symbol: str) -> list[int]:
        """Cancel every open order of the account on `symbol`; returns the cancelled order ids."""
        return (await self.request("cancel_all", symbol=symbol))["cancelled"]

    async def edit_order(self, id: int, symbol: str, type: str | None = None, side: str | None = None,
                         amount: Any = None, price: Any = None) -> Order:
        """Amend qty and price of a resting order (type and side cannot change). A lower qty at the
        same price keeps the queue position; anything else re-queues (and may trade)."""
        if amount is None or price is None:
            raise ValueError("edit_order needs both the new amount and the new price")
        return Order.from_wire(await self.request("amend", symbol=symbol, order_id=id, qty=_s(amount), price=_s(price)))

    async def set_leverage(self, leverage: int, symbol: str) -> dict:
        return await self.request("set_leverage", symbol=symbol, leverage=int(leverage))

    async def set_margin_mode(self, margin_mode: str, symbol: str) -> dict:
        """margin_mode: "cross" or "isolated" (only without a position or open orders in symbol)."""
        return await self.request("set_margin_mode", symbol=symbol, mode=margin_mode)

    async def add_margin(self, symbol: str, amount: Any) -> dict:
        """Move `amount` USDT from the cross wallet into the isolated position's wallet."""
        return await self.request("adjust_margin", symbol=symbol, amount=_s(amount))

    async def reduce_margin(self, symbol: str, amount: Any) -> dict:
        """Take `amount` USDT out of the isolated position's wallet (not below its initial margin)."""
        return await self.request("adjust_margin", symbol=symbol, amount="-" + _s(amount).lstrip("-"))

    async def set_auto_add_margin(self, symbol: str, enabled: bool) -> dict:
        return await self.request("set_auto_add_margin", symbol=symbol, enabled=bool(enabled))

    # -- queries -------------------------------------------------------------------------------
    async def fetch_balance(self, account: int | None = None) -> Balance:
        """Balances and margin ratio (`account` only for an admin connection)."""
        return Balance.from_wire(await self.request("account", account=account))

    async def fetch_positions(self, symbols: list[str] | None = None, account: int | None = None) -> list[Position]:
        rows = await self.request("positions", account=account)
        return [Position.from_wire(r) for r in rows if symbols is None or r["symbol"] in symbols]

    async def fetch_open_orders(self, symbol: str | None = None, account: int | None = None) -> list[Order]:
        return [Order.from_wire(r) for r in await self.request("open_orders", symbol=symbol, account=account)]

    async def fetch_order(self, id: int, symbol: str | None = None, account: int | None = None) -> Order:
        """An open order, or the final status of a recently closed one."""
        return Order.from_wire(await self.request("order", order_id=id, account=account))

    async def fetch_order_book(self, symbol: str, limit: int | None = None) -> OrderBook:
        res = await self.request("book", symbol=symbol, depth=limit)
        return _LocalBook(res).view(symbol)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        return Ticker.from_wire(await self.request("ticker", symbol=symbol))

    async def fetch_funding_rate(self, symbol: str) -> dict:
        return await self.request("funding", symbol=symbol)

    async def fetch_insurance_fund(self) -> dict:
        return await self.request("insurance_fund")

    async def load_markets(self) -> dict[str, Market]:
        """Instrument specifications by symbol (also kept in `self.markets`)."""
        for m in await self.request("instruments"):
            self.markets[m["symbol"]] = Market(m["symbol"], Decimal(m["tick_size"]), Decimal(m["lot_step"]),
                                               Decimal(m["min_qty"]), m["max_leverage"], m)
        return self.markets

    async def fetch_time(self) -> dict:
        return await self.request("time")

    # -- streams (ccxt-pro names) -------------------------------------------------------------
    # The first watch_* call of a channel subscribes; from then on its messages are buffered and each
    # call returns those that arrived since the previous call, waiting when there are none.

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> OrderBook:
        """The local book (snapshot + applied updates, gaps healed by resubscribing) after an update."""
        await self._next("book", symbol)
        book = self.books.get(symbol)
        while book is None:  # resubscribing after a gap
            await self._next("book", symbol)
            book = self.books.get(symbol)
        return book.view(symbol, limit)

    async def watch_trades(self, symbol: str) -> list[Trade]:
        return [Trade(t["id"], symbol, Decimal(t["price"]), Decimal(t["qty"]), t["side"], t["liquidation"], m["ts"])
                for m in await self._next("trades", symbol) for t in m["trades"]]

    async def watch_ticker(self, symbol: str) -> Ticker:
        return Ticker.from_wire((await self._next("ticker", symbol))[-1])

    async def watch_liquidations(self, symbol: str) -> list[Liquidation]:
        return [Liquidation(symbol, m["side"], Decimal(m["qty"]), Decimal(m["bankruptcy_price"]), Decimal(m["filled"]),
                            Decimal(m["avg_price"]), m["mode"].lower(), m["ts"])
                for m in await self._next("liquidations", symbol)]

    async def watch_private(self) -> list[dict]:
        """The account's private events ({"event": name, ...} maps) since the previous call."""
        return await self._next("private", "")

    async def watch_orders(self) -> list[dict]:
        """Private order events (OrderAccepted, OrderCancelled, OrderAmended, OrderTriggered,
        OrderRejected, Fill) since the previous call, waiting for at least one. Independent of
        watch_private and watch_positions: each call sees every event of its kind."""
        return await self._next("private", "orders")

    async def watch_positions(self) -> list[Position]:
        """The account's positions, after position, funding, margin, liquidation or ADL events
        (those since the previous call, or the next one)."""
        await self._next("private", "positions")
        return await self.fetch_positions()

    # -- admin helpers (connection logged in with the admin key) -------------------------------
    async def create_account(self, deposit: Any = None, account: int | None = None) -> AccountKey:
        """Create an account (next free id unless given), optionally funded; returns its API key."""
        res = await self.request("create_account", account=account,
                                 deposit=None if deposit is None else _s(deposit))
        return AccountKey(res["account"], res["api_key"])

    async def create_api_key(self, account: int) -> AccountKey:
        res = await self.request("create_api_key", account=account)
        return AccountKey(res["account"], res["api_key"])

    async def deposit(self, account: int, amount: Any) -> Decimal:
        """Faucet: credit `amount` USDT; returns the new cross wallet balance."""
        return Decimal((await self.request("deposit", account=account, amount=_s(amount)))["cross_wallet"])

    async def withdraw(self, account: int, amount: Any) -> Decimal:
        return Decimal((await self.request("withdraw", account=account, amount=_s(amount)))["cross_wallet"])

    async def set_index(self, symbol: str, price: Any) -> Ticker:
        """Set the index price now (the feed continues from there); returns the ticker after it."""
        return Ticker.from_wire(await self.request("set_index", symbol=symbol, price=_s(price)))

    async def shock_index(self, symbol: str, pct: Any, seconds: Any = 0) -> dict:
        """Move the index by pct % (e.g. -10) over `seconds` clock seconds, through the feed."""
        return await self.request("shock_index", symbol=symbol, pct=_s(pct), seconds=_s(seconds))

    async def set_trading_halted(self, halted: bool) -> dict:
        return await self.request("set_halted", halted=bool(halted))

    async def set_instrument_param(self, symbol: str, name: str, value: int) -> dict:
        return await self.request("set_param", symbol=symbol, name=name, value=int(value))

    async def set_brackets(self, symbol: str, brackets: list[dict]) -> list[dict]:
        """Replace the leverage brackets ({floor, cap, max_leverage, mmr}; cum is derived) live; returns them."""
        rows = [{k: (v if k == "max_leverage" else _s(v)) for k, v in b.items() if k != "cum"} for b in brackets]
        return (await self.request("set_brackets", symbol=symbol, brackets=rows))["brackets"]

    async def deposit_asset(self, account: int, asset: str, amount: Any) -> dict:
        """Credit collateral (an asset the server config declares): {account, asset, balance, value}."""
        return await self.request("deposit_asset", account=account, asset=asset, amount=_s(amount))

    async def withdraw_asset(self, account: int, asset: str, amount: Any) -> dict:
        return await self.request("withdraw_asset", account=account, asset=asset, amount=_s(amount))

    async def take_snapshot(self) -> dict:
        return await self.request("snapshot")

    async def state_hash(self) -> str:
        return (await self.request("state_hash"))["state_hash"]


_MSG_TYPE = {"book": "book", "trades": "trades", "ticker": "ticker", "liquidations": "liquidation"}
_PARAM_ALIASES = {"clientOrderId": "client_order_id", "timeInForce": "tif", "reduceOnly": "reduce_only",
                  "postOnly": "post_only", "stopPrice": "stop_price", "workingType": "working_type"}
_ORDER_EVENTS = frozenset({"OrderAccepted", "OrderCancelled", "OrderAmended", "OrderTriggered", "OrderRejected",
                           "Fill"})
_POSITION_EVENTS = frozenset({"PositionChanged", "LiquidationTriggered", "Deleveraged", "FundingPaid",
                              "IsolatedMarginChanged"})
