"""Order entry: every check an order passes before anything changes (instrument, account, fields and
their ranges, open-order count, reduce-only, price bands, min notional, the trigger, position limit,
closing beyond bankruptcy). Each raises Rejection; none mutates."""

from __future__ import annotations

from .accounts import Account, Position
from .book import Order
from .commands import (
    BUY, FOK, GTX, MARK_PRICE, MARKET, ORDER_TYPES, SELL, STOP, STOP_MARKET, STP_MODES, STP_NONE, TIFS,
    TRIGGER_TYPES, WORKING_TYPES, PlaceOrder,
)
from .errors import Reject, Rejection
from .instruments import Instrument
from .margin import band_limit, bankruptcy_price, bankruptcy_ticks
from .market import Market
from .risk import Risk
from .state import State

MARKET_TYPES = (MARKET, STOP_MARKET, "TAKE_PROFIT_MARKET")


def fires_on_rise(order_type: str, side: int) -> bool:
    """STOP buy and TAKE_PROFIT sell fire when the price rises to the stop; the other two when it falls."""
    return (order_type in (STOP, STOP_MARKET)) == (side == BUY)


class OrderEntry:
    """The checks of a new order (`validate`, then the ones that depend on its type) and of an amend."""

    __slots__ = ("state", "markets", "risk")

    def __init__(self, state: State, markets: dict[str, Market], risk: Risk) -> None:
        self.state = state
        self.markets = markets
        self.risk = risk

    def validate(self, cmd: PlaceOrder) -> tuple[Account, Instrument, Position]:
        """All static checks of an order: the fields, the account, the open-order count, reduce-only."""
        state = self.state
        inst = state.instruments.get(cmd.symbol) if type(cmd.symbol) is str else None
        if inst is None:
            raise Rejection(Reject.UNKNOWN_SYMBOL, f"unknown symbol {cmd.symbol!r}")
        acct = state.accounts.get(cmd.account) if type(cmd.account) is int else None
        if acct is None:
            raise Rejection(Reject.UNKNOWN_ACCOUNT, f"unknown account {cmd.account!r}")
        if state.halted:
            raise Rejection(Reject.TRADING_HALTED, "trading is halted")
        side, kind, tif, stp = cmd.side, cmd.order_type, cmd.tif, cmd.stp
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
        qty = cmd.qty_lots
        market = kind in MARKET_TYPES
        lo, hi = (inst.market_min_qty_lots, inst.market_max_qty_lots) if market else (inst.min_qty_lots, inst.max_qty_lots)
        if type(qty) is not int or qty < lo or qty > hi:
            raise Rejection(Reject.INVALID_QTY, f"qty {qty!r} lots is outside [{lo}, {hi}] lots of {inst.lot_step}")
        if not market:
            price = cmd.price_ticks
            if type(price) is not int or price < inst.min_price_ticks or price > inst.max_price_ticks:
                raise Rejection(Reject.INVALID_PRICE, f"price {price!r} ticks is outside "
                                f"[{inst.min_price_ticks}, {inst.max_price_ticks}] ticks of {inst.tick_size}")
        if kind in TRIGGER_TYPES:
            stop = cmd.stop_price_ticks
            if type(stop) is not int or stop < inst.min_price_ticks or stop > inst.max_price_ticks:
                raise Rejection(Reject.INVALID_PRICE, f"stop price {stop!r} ticks is outside "
                                f"[{inst.min_price_ticks}, {inst.max_price_ticks}]")
            if cmd.working_type not in WORKING_TYPES:
                raise Rejection(Reject.INVALID_TRIGGER, f"working type {cmd.working_type!r} is not one of {WORKING_TYPES}")
        if type(cmd.reduce_only) is not bool or type(cmd.client_order_id) is not str:
            raise Rejection(Reject.INVALID_PARAMETER, f"reduce_only must be a bool and client_order_id a str, "
                            f"not {cmd.reduce_only!r} and {cmd.client_order_id!r}")
        pos = acct.positions[cmd.symbol]
        if pos.open_orders >= inst.max_open_orders:
            raise Rejection(Reject.MAX_OPEN_ORDERS, f"{pos.open_orders} open orders on {cmd.symbol}: the limit is {inst.max_open_orders}")
        if cmd.reduce_only:
            size = pos.size
            if size == 0 or (size > 0) == (side > 0) or qty > abs(size):
                raise Rejection(Reject.REDUCE_ONLY_REJECTED,
                                f"reduce-only {'buy' if side > 0 else 'sell'} of {qty} lots would not reduce position {size}")
        return acct, inst, pos

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

    def check_position_limit(self, inst: Instrument, pos: Position, signed_qty: int, price: int) -> None:
        """The position an order would open must fit a tier that allows the symbol's leverage."""
        target = abs(pos.size + signed_qty) * price * inst.cash_per_tick_lot
        tier = self.risk.venue.tiers.tier(inst, abs(pos.size + signed_qty), target)
        if tier.max_leverage < pos.leverage:
            raise Rejection(Reject.INVALID_LEVERAGE, f"a position of notional {target} allows at most "
                            f"{tier.max_leverage}x leverage; this symbol is set to {pos.leverage}x")

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

    def check_amend(self, acct: Account, order: Order, inst: Instrument, qty: int, price: int) -> None:
        """The new qty and price of a resting order: ranges and reduce-only (bands come after)."""
        if type(qty) is not int or qty <= 0 or qty > inst.max_qty_lots:
            raise Rejection(Reject.INVALID_QTY, f"qty {qty!r} lots is outside [1, {inst.max_qty_lots}]")
        if type(price) is not int or price < inst.min_price_ticks or price > inst.max_price_ticks:
            raise Rejection(Reject.INVALID_PRICE, f"price {price!r} ticks is outside [{inst.min_price_ticks}, {inst.max_price_ticks}]")
        if order.reduce_only and qty > abs(acct.positions[inst.symbol].size):
            raise Rejection(Reject.REDUCE_ONLY_REJECTED, f"reduce-only qty {qty} lots exceeds the position "
                            f"{acct.positions[inst.symbol].size}")
