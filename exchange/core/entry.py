"""Order entry: every check an order passes before anything changes (instrument, account, fields and
their ranges, open-order count, reduce-only, price bands, min notional, the trigger, position limit,
closing beyond bankruptcy). Each raises Rejection; none mutates."""

from __future__ import annotations

from typing import get_type_hints

from .accounts import Account, Position
from .book import Book, Order
from .commands import (
    BUY, FOK, GTX, LIMIT, MARK_PRICE, MARKET, ORDER_TYPES, SELL, STOP, STOP_MARKET, STP_MODES, STP_NONE, TIFS,
    TRIGGER_TYPES, WORKING_TYPES, AmendOrder, PlaceOrder, as_sent,
)
from .errors import Reject, Rejection
from .instruments import Instrument
from .margin import band_limit, bankruptcy_price, bankruptcy_ticks
from .market import Market
from .risk import Risk
from .state import State

MARKET_TYPES = (MARKET, STOP_MARKET, "TAKE_PROFIT_MARKET")
PLACE_FIELDS = tuple(get_type_hints(PlaceOrder).values())  # the declared type of each field, in order
PLAIN = frozenset((kind, tif) for kind in (LIMIT, MARKET) for tif in TIFS)


def fires_on_rise(order_type: str, side: int) -> bool:
    """STOP buy and TAKE_PROFIT sell fire when the price rises to the stop; the other two when it falls."""
    return (order_type in (STOP, STOP_MARKET)) == (side == BUY)


class OrderEntry:
    """The checks of a new order (`check`) and of an amend (`check_amend`, then the bands)."""

    __slots__ = ("state", "books", "markets", "risk")

    def __init__(self, state: State, books: dict[str, Book], markets: dict[str, Market], risk: Risk) -> None:
        self.state = state
        self.books = books
        self.markets = markets
        self.risk = risk

    def check(self, cmd: PlaceOrder) -> tuple[Account, Instrument, Position, int]:
        """Every check of a new order, in a fixed order (the first that fails names the rejection): the
        fields, the account, the open-order count, reduce-only (`_check_fields`), then by type the
        trigger, or the market band's liquidity, or the price band, min notional, post-only and
        fill-or-kill; for any order that closes, no fill beyond the bankruptcy price (`_priced`). Returns
        the account, instrument, position and the price the order may match up to (0 for a conditional).

        A plain limit or market order with every field of its declared type and within its bounds passes
        the field checks in one conjunction; anything else goes through them one by one."""
        state = self.state
        if tuple(map(type, cmd)) == PLACE_FIELDS:  # every field of its declared type, so read as typed
            account, symbol, side, qty, price, kind, tif, reduce_only, _, _, stp, _ = cmd
            if (stp == STP_NONE and (kind, tif) in PLAIN
                    and (inst := state.instruments.get(symbol)) is not None
                    and (acct := state.accounts.get(account)) is not None
                    and not state.halted and (side == BUY or side == SELL) and not reduce_only):
                pos = acct.positions[symbol]
                if kind == LIMIT:
                    if (inst.min_qty_lots <= qty <= inst.max_qty_lots and pos.open_orders < inst.max_open_orders
                            and inst.min_price_ticks <= price <= inst.max_price_ticks):
                        return acct, inst, pos, self._priced(acct, inst, pos, side, qty, price, False, tif, False)
                elif inst.market_min_qty_lots <= qty <= inst.market_max_qty_lots and pos.open_orders < inst.max_open_orders:
                    return acct, inst, pos, self._priced(acct, inst, pos, side, qty, price, True, tif, False)
        acct, inst, pos = self._check_fields(cmd)
        _, _, side, qty, price, kind, tif, reduce_only, *_ = cmd  # every field checked
        if kind in TRIGGER_TYPES:
            self.check_trigger(inst, cmd)
            return acct, inst, pos, 0
        return acct, inst, pos, self._priced(acct, inst, pos, side, qty, price, kind != LIMIT, tif, reduce_only)

    def _check_fields(self, cmd: PlaceOrder) -> tuple[Account, Instrument, Position]:
        """The field checks one by one: symbol, account, halt, side, type, TIF, STP, qty, price, stop and
        working type, flag types, every other field's type, the open-order count, reduce-only."""
        sent = as_sent(cmd)
        account, symbol, side, qty, price, kind, tif, reduce_only, stop, working, stp, coid = sent
        state = self.state
        inst = state.instruments.get(symbol) if type(symbol) is str else None
        if inst is None:
            raise Rejection(Reject.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
        acct = state.accounts.get(account) if type(account) is int else None
        if acct is None:
            raise Rejection(Reject.UNKNOWN_ACCOUNT, f"unknown account {account!r}")
        if state.halted:
            raise Rejection(Reject.TRADING_HALTED, "trading is halted")
        if type(side) is not int or (side != BUY and side != SELL):
            raise Rejection(Reject.INVALID_SIDE, f"side {side!r} is not 1 (buy) or -1 (sell)")
        if kind not in ORDER_TYPES:
            raise Rejection(Reject.INVALID_ORDER_TYPE, f"order type {kind!r} is not one of {ORDER_TYPES}")
        if tif not in TIFS:
            raise Rejection(Reject.INVALID_TIF, f"time in force {tif!r} is not one of {TIFS}")
        if stp != STP_NONE:
            if stp not in STP_MODES:
                raise Rejection(Reject.INVALID_STP, f"self-trade prevention {stp!r} is not one of {STP_MODES}")
            if tif == FOK or tif == GTX:
                raise Rejection(Reject.INVALID_STP, f"self-trade prevention is not available for {tif} orders")
        limit_order = kind == LIMIT
        market = not limit_order and kind in MARKET_TYPES
        lo, hi = (inst.market_min_qty_lots, inst.market_max_qty_lots) if market else (inst.min_qty_lots, inst.max_qty_lots)
        if type(qty) is not int or qty < lo or qty > hi:
            raise Rejection(Reject.INVALID_QTY, f"qty {qty!r} lots is outside [{lo}, {hi}] lots of {inst.lot_step}")
        if not market and (type(price) is not int or price < inst.min_price_ticks or price > inst.max_price_ticks):
            raise Rejection(Reject.INVALID_PRICE, f"price {price!r} ticks is outside "
                            f"[{inst.min_price_ticks}, {inst.max_price_ticks}] ticks of {inst.tick_size}")
        conditional = not limit_order and kind in TRIGGER_TYPES
        if conditional:
            if type(stop) is not int or stop < inst.min_price_ticks or stop > inst.max_price_ticks:
                raise Rejection(Reject.INVALID_PRICE, f"stop price {stop!r} ticks is outside "
                                f"[{inst.min_price_ticks}, {inst.max_price_ticks}]")
            if working not in WORKING_TYPES:
                raise Rejection(Reject.INVALID_TRIGGER, f"working type {working!r} is not one of {WORKING_TYPES}")
        if type(reduce_only) is not bool or type(coid) is not str:
            raise Rejection(Reject.INVALID_PARAMETER, f"reduce_only must be a bool and client_order_id a str, "
                            f"not {reduce_only!r} and {coid!r}")
        # and the fields the checks above leave alone by type (a market order's price, the stop and working
        # type of a plain order): of their declared types all the same, so that none reaches the state
        for name, value, declared in zip(PlaceOrder._fields, sent, PLACE_FIELDS):
            if type(value) is not declared:
                raise Rejection(Reject.INVALID_PARAMETER, f"{name} must be {declared.__name__}, not {type(value).__name__}")
        pos = acct.positions[inst.symbol]
        if pos.open_orders >= inst.max_open_orders:
            raise Rejection(Reject.MAX_OPEN_ORDERS, f"{pos.open_orders} open orders on {symbol}: the limit is {inst.max_open_orders}")
        size = pos.size
        if reduce_only and (size == 0 or (size > 0) == (side > 0) or qty > abs(size)):
            raise Rejection(Reject.REDUCE_ONLY_REJECTED,
                            f"reduce-only {'buy' if side > 0 else 'sell'} of {qty} lots would not reduce position {size}")
        return acct, inst, pos

    def _priced(self, acct: Account, inst: Instrument, pos: Position, side: int, qty: int, price: int, market: bool,
                tif: str, reduce_only: bool) -> int:
        """The checks by type of a limit or market order whose fields passed; the price it may match to."""
        size = pos.size
        closes = self.state.margin_checks and size and (size > 0) != (side > 0)
        book = self.books[inst.symbol]
        if market:
            limit = self.market_limit(inst, side)
            if closes:
                limit = self.closing_limit(acct, pos, inst, side, limit, True)
            if not book.crosses(side, limit):
                raise Rejection(Reject.NO_LIQUIDITY, f"no {'asks' if side == BUY else 'bids'} within the "
                                f"market band (limit {limit} ticks)")
            return limit
        mark = self.markets[inst.symbol].mark
        if (mark and ((price > band_limit(mark, inst.price_band_ppm, BUY)) if side == BUY
                      else (price < band_limit(mark, inst.price_band_ppm, SELL)))
                or (not reduce_only and price * qty * inst.cash_per_tick_lot < inst.min_notional_cash)):
            self.check_band_and_notional(inst, side, price, qty, reduce_only)  # raises, naming which
        if closes:
            self.closing_limit(acct, pos, inst, side, price, False)
        if tif == GTX and book.crosses(side, price):
            raise Rejection(Reject.POST_ONLY_WOULD_TAKE, f"post-only order at {price} ticks would take liquidity")
        if tif == FOK and not book.fillable(side, price, qty):
            raise Rejection(Reject.FOK_NOT_FILLABLE, f"fill-or-kill qty {qty} is not available up to {price} ticks")
        return price

    def check_band_and_notional(self, inst: Instrument, side: int, price: int, qty: int, reduce_only: bool) -> None:
        """A limit price within the percent-price band around the mark, and the order's min notional."""
        mark = self.markets[inst.symbol].mark
        if mark:
            band = inst.price_band_ppm
            edge = band_limit(mark, band, side)
            if side == BUY and price > edge:
                raise Rejection(Reject.PRICE_BAND, f"buy price {price} ticks is above {edge} (mark {mark} + {band} ppm)")
            if side == SELL and price < edge:
                raise Rejection(Reject.PRICE_BAND, f"sell price {price} ticks is below {edge} (mark {mark} - {band} ppm)")
        self.check_notional(inst, price, qty, reduce_only)

    @staticmethod
    def check_notional(inst: Instrument, price: int, qty: int, reduce_only: bool) -> None:
        if not reduce_only and price * qty * inst.cash_per_tick_lot < inst.min_notional_cash:
            raise Rejection(Reject.MIN_NOTIONAL, f"notional {price * qty * inst.cash_per_tick_lot} is below "
                            f"min notional {inst.min_notional_cash} (cash units)")

    def market_limit(self, inst: Instrument, side: int) -> int:
        """The furthest price a market order may sweep to: mark -/+ market band."""
        m = self.markets[inst.symbol]
        ref = m.mark or m.last
        if not ref:
            raise Rejection(Reject.NO_MARK_PRICE, f"no mark price for {inst.symbol} yet: market orders need one")
        return band_limit(ref, inst.market_band_ppm, side)

    def check_trigger(self, inst: Instrument, cmd: PlaceOrder) -> None:
        """A conditional order that would fire at once is refused."""
        ref = self.reference_price(inst.symbol, cmd.working_type)
        if not ref:
            return
        rise = fires_on_rise(cmd.order_type, cmd.side)
        if (rise and ref >= cmd.stop_price_ticks) or (not rise and ref <= cmd.stop_price_ticks):
            raise Rejection(Reject.WOULD_TRIGGER_IMMEDIATELY,
                            f"{cmd.order_type} with stop {cmd.stop_price_ticks} ticks would trigger at once "
                            f"({cmd.working_type} is {ref})")

    def reference_price(self, symbol: str, working_type: str) -> int:
        """The price a conditional order watches: the mark or the last trade."""
        m = self.markets[symbol]
        return m.mark if working_type == MARK_PRICE else m.last

    def closing_limit(self, acct: Account, pos: Position, inst: Instrument, side: int, limit: int,
                      market: bool, backing: int | None = None) -> int:
        """A closing order may not fill beyond the position's bankruptcy price (its loss would exceed the
        margin behind it): a market order's sweep stops there, a limit order priced beyond it is rejected.
        `backing`: the cash behind the position if not the current one (an isolated margin removal)."""
        size = pos.size
        if not self.state.margin_checks or not size or (size > 0) == (side > 0):
            return limit
        backing = self.risk.backing(acct, pos) if backing is None else backing
        bp = bankruptcy_price(size, pos.cost, backing, inst.cash_per_tick_lot)
        if bp is None:
            return limit
        edge = bankruptcy_ticks(bp, side)
        if (limit <= edge) if side == BUY else (limit >= edge):
            return limit
        if market:
            return edge
        raise Rejection(Reject.INSUFFICIENT_MARGIN, f"closing at {limit} ticks would lose more than the margin "
                        f"behind the position (bankruptcy price {edge} ticks)")

    def check_amend(self, acct: Account, order: Order, inst: Instrument, cmd: AmendOrder) -> tuple[int, int]:
        """The new qty and price of a resting order: ranges and reduce-only (bands come after). Returns them."""
        qty, price = as_sent(cmd)[3:]
        if type(qty) is not int or qty <= 0 or qty > inst.max_qty_lots:
            raise Rejection(Reject.INVALID_QTY, f"qty {qty!r} lots is outside [1, {inst.max_qty_lots}]")
        if type(price) is not int or price < inst.min_price_ticks or price > inst.max_price_ticks:
            raise Rejection(Reject.INVALID_PRICE, f"price {price!r} ticks is outside [{inst.min_price_ticks}, {inst.max_price_ticks}]")
        if order.reduce_only and qty > abs(acct.positions[inst.symbol].size):
            raise Rejection(Reject.REDUCE_ONLY_REJECTED, f"reduce-only qty {qty} lots exceeds the position "
                            f"{acct.positions[inst.symbol].size}")
        return qty, price
