"""Order entry: validate -> reserve margin -> match -> settle fills -> emit, plus cancel and amend."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .accounts import Account, Position
from .book import MAKER_OUT, TAKER_OUT, Book, Order
from .commands import (
    BUY, FOK, GTX, IOC, MARKET, ORDER_TYPES, SELL, STP_EXPIRE_MAKER, STP_EXPIRE_TAKER, STP_MODES, STP_NONE, TIFS,
    TRIGGER_TYPES, WORKING_TYPES,
    AmendOrder, CancelAll, CancelOrder, PlaceOrder,
)
from .errors import Reject, Rejection
from .events import (
    InsuranceFundChanged, IsolatedMarginChanged, OrderAccepted, OrderAmended, OrderCancelled, OrderRejected,
    PositionChanged, Trade,
)
from .instruments import Instrument
from .margin import bankruptcy_price, closing_cost, initial_margin
from .money import PPM, ceil_div

if TYPE_CHECKING:  # a mixin of Exchange: the other mixins' attributes are there at run time
    from typing import Any as _Base
else:
    _Base = object


MARKET_TYPES = (MARKET, "STOP_MARKET", "TAKE_PROFIT_MARKET")
_new = tuple.__new__  # builds a NamedTuple event from a ready tuple, skipping its Python-level __new__


def _is_int(v: object) -> bool:
    return type(v) is int


def _fee_bound(inst: Instrument) -> int:
    """The fee rate an order reserves for: the higher of maker and taker (it may fill as either)."""
    return max(inst.maker_fee_ppm, inst.taker_fee_ppm)


class Trading(_Base):
    """Mixin of Exchange: the order path."""

    next_order_id: int
    next_trade_id: int
    trim_pending: dict[tuple[int, str], None]

    # -- validation (pure) ---------------------------------------------------------------------
    def _validate_order(self, cmd: PlaceOrder) -> tuple[Account, Instrument, Position]:
        """All static checks of an order; raises Rejection. Mutates nothing."""
        inst = self.instruments.get(cmd.symbol) if type(cmd.symbol) is str else None
        if inst is None:
            raise Rejection(Reject.UNKNOWN_SYMBOL, f"unknown symbol {cmd.symbol!r}")
        acct = self.accounts.get(cmd.account) if type(cmd.account) is int else None
        if acct is None:
            raise Rejection(Reject.UNKNOWN_ACCOUNT, f"unknown account {cmd.account!r}")
        if self.halted:
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

    def _check_band_and_notional(self, inst: Instrument, side: int, price: int, qty: int, reduce_only: bool) -> None:
        mark = self.markets[inst.symbol].mark
        if mark:
            band = inst.price_band_ppm
            if side == BUY:
                cap = mark * (PPM + band) // PPM
                if price > cap:
                    raise Rejection(Reject.PRICE_BAND, f"buy price {price} ticks is above {cap} (mark {mark} + {band} ppm)")
            else:
                floor = ceil_div(mark * (PPM - band), PPM)
                if price < floor:
                    raise Rejection(Reject.PRICE_BAND, f"sell price {price} ticks is below {floor} (mark {mark} - {band} ppm)")
        self._check_notional(inst, price, qty, reduce_only)

    @staticmethod
    def _check_notional(inst: Instrument, price: int, qty: int, reduce_only: bool) -> None:
        if not reduce_only and price * qty * inst.cash_per_tick_lot < inst.min_notional_cash:
            raise Rejection(Reject.MIN_NOTIONAL, f"notional {price * qty * inst.cash_per_tick_lot} is below "
                            f"min notional {inst.min_notional_cash} (cash units)")

    def _market_limit(self, inst: Instrument, side: int) -> int:
        """The furthest price a market order may sweep to: mark -/+ market band."""
        m = self.markets[inst.symbol]
        ref = m.mark or m.last
        if not ref:
            raise Rejection(Reject.NO_MARK_PRICE, f"no mark price for {inst.symbol} yet: market orders need one")
        band = inst.market_band_ppm
        if side == BUY:
            return ref * (PPM + band) // PPM
        return max(1, ceil_div(ref * (PPM - band), PPM))

    @staticmethod
    def _check_position_limit(inst: Instrument, pos: Position, signed_qty: int, price: int) -> None:
        """The position an order would open must fit a bracket that allows the symbol's leverage."""
        target = abs(pos.size + signed_qty) * price * inst.cash_per_tick_lot
        bracket = inst.bracket_for(target)
        if bracket.max_leverage < pos.leverage:
            raise Rejection(Reject.INVALID_LEVERAGE, f"a position of notional {target} allows at most "
                            f"{bracket.max_leverage}x leverage; this symbol is set to {pos.leverage}x")

    def _closing_limit(self, acct: Account, pos: Position, inst: Instrument, side: int, limit: int,
                       market: bool, other: int | None = None) -> int:
        """A closing order may not fill beyond the position's bankruptcy price (its loss would exceed the
        margin behind it): a market order's sweep stops there, a limit order priced beyond it is rejected.
        `other`: the cash behind the position if not the current one (an isolated margin removal)."""
        size = pos.size
        if not self.margin_checks or not size or (size > 0) == (side > 0):
            return limit
        other = self._other_cash(acct, pos) if other is None else other
        bp = bankruptcy_price(size, pos.cost, other, inst.cash_per_tick_lot)
        if bp is None:
            return limit
        edge = bp[0] // bp[1] if side == BUY else ceil_div(bp[0], bp[1])
        if (limit <= edge) if side == BUY else (limit >= edge):
            return limit
        if market:
            return edge
        raise Rejection(Reject.INSUFFICIENT_MARGIN, f"closing at {limit} ticks would lose more than the margin "
                        f"behind the position (bankruptcy price {edge} ticks)")

    def _order_cost(self, pos: Position, side: int, qty: int, price: int, k: int, fee_ppm: int) -> int:
        """What an order of qty at price needs for the part that would open or increase the position:
        initial margin + open loss + the fee at fee_ppm on that part, each rounded up. The one formula of
        a reservation (at placement) and of a fill's need (at the fill)."""
        size = pos.size
        if size and (size > 0) != (side > 0):
            qty -= -size if size < 0 else size
            if qty <= 0:
                return 0
        mark = self.markets[pos.symbol].mark or price
        loss = side * (price - mark)
        value = qty * price * k
        cost = initial_margin(value, pos.leverage) + ceil_div(value * fee_ppm, PPM)
        return cost + qty * loss * k if loss > 0 else cost

    def _fillable(self, acct: Account, pos: Position, order: Order, qty: int, price: int, k: int, fee_ppm: int,
                  held: int, prepaid: int) -> tuple[int, int, str]:
        """(lots of qty the order may fill now, what they need, why not all of qty).

        A fill may reduce the position only by what is left of it; what opens or extends it needs its
        margin at this moment (`_order_cost`): within `prepaid` (a taker's reservation, checked in this same
        command), or within the account's margin room (available, or the free balance for an isolated
        position) plus `held` (what of a resting order's reservation this fill releases). Short of that,
        the closing part and as many opening lots as the room pays for.
        """
        size = pos.size
        side = order.side
        closing = (qty if qty < abs(size) else abs(size)) if size and (size > 0) != (side > 0) else 0
        if closing == qty or not self.margin_checks:
            return qty, 0, ""
        if order.reduce_only:
            return closing, 0, "REDUCE_ONLY"
        cost = self._order_cost
        need = cost(pos, side, qty, price, k, fee_ppm)
        if need <= prepaid:
            return qty, need, ""
        room = max(prepaid, self._margin_room(acct, pos.isolated) + held)
        if need <= room:
            return qty, need, ""
        extra = (qty - closing) * max(0, room) // need  # the need is linear in the lots, but for rounding
        while extra and cost(pos, side, closing + extra, price, k, fee_ppm) > room:
            extra -= 1
        return closing + extra, cost(pos, side, closing + extra, price, k, fee_ppm), "INSUFFICIENT_MARGIN"

    # -- placement -----------------------------------------------------------------------------
    def _place(self, cmd: PlaceOrder, events: list, oid: int = 0) -> None:
        """Place an order; `oid` is given when a triggered conditional order keeps its id."""
        try:
            acct, inst, pos = self._validate_order(cmd)
            book = self.books[cmd.symbol]
            side, kind = cmd.side, cmd.order_type
            conditional = kind in TRIGGER_TYPES
            if conditional:
                self._check_trigger(inst, cmd)
                limit = 0
            elif kind == MARKET:
                limit = self._closing_limit(acct, pos, inst, side, self._market_limit(inst, side), True)
                if not book.crosses(side, limit):
                    raise Rejection(Reject.NO_LIQUIDITY, f"no {'asks' if side == BUY else 'bids'} within the "
                                    f"market band (limit {limit} ticks)")
            else:
                limit = cmd.price_ticks
                self._check_band_and_notional(inst, side, limit, cmd.qty_lots, cmd.reduce_only)
                self._closing_limit(acct, pos, inst, side, limit, False)
                tif = cmd.tif
                if tif == GTX and book.crosses(side, limit):
                    raise Rejection(Reject.POST_ONLY_WOULD_TAKE, f"post-only order at {limit} ticks would take liquidity")
                if tif == FOK and not book.fillable(side, limit, cmd.qty_lots):
                    raise Rejection(Reject.FOK_NOT_FILLABLE, f"fill-or-kill qty {cmd.qty_lots} is not available up to {limit} ticks")
            cost = 0
            if self.margin_checks and not cmd.reduce_only and not conditional:
                est = limit if kind != MARKET else (book.best_ask if side == BUY else book.best_bid)
                cost = self._order_cost(pos, side, cmd.qty_lots, est, inst.cash_per_tick_lot, _fee_bound(inst))
                if cost:
                    self._check_position_limit(inst, pos, side * cmd.qty_lots, est)
                    self._require_available(acct, cost, pos.isolated)
        except Rejection as r:
            events.append(OrderRejected(cmd.account, cmd.symbol, cmd.client_order_id, r.code.value, r.message))
            return
        order = self._new_order(cmd, oid)
        events.append(_new(OrderAccepted, (cmd.account, cmd.symbol, order.oid, side, kind, order.price, order.qty,
                                           order.tif, cmd.reduce_only, cmd.stop_price_ticks, cmd.client_order_id)))
        if conditional:
            self._arm_trigger(order, acct, pos)
            return
        self._execute(order, acct, pos, inst, book, limit, cost, events)
        if self.trigger_orders or self.trim_pending or self.backing_pending:
            self._after_trades(inst.symbol, events)

    def _new_order(self, cmd: PlaceOrder, oid: int = 0) -> Order:
        priority = self.next_order_id
        self.next_order_id = priority + 1
        market = cmd.order_type == MARKET
        return Order(oid or priority, cmd.account, cmd.side, 0 if market else cmd.price_ticks, cmd.qty_lots, priority,
                     cmd.symbol, cmd.order_type, IOC if market else cmd.tif, cmd.reduce_only, cmd.stp,
                     cmd.client_order_id, cmd.stop_price_ticks, cmd.working_type)

    def _execute(self, order: Order, acct: Account, pos: Position, inst: Instrument, book: Book, limit: int,
                 cost: int, events: list, fee_ppm: int | None = None) -> None:
        """Match an accepted order, settling each fill as it happens, then rest or expire the remainder.

        `cost` is the order's reservation, checked against the account in this command: the taker's
        fills draw on it first. Every maker and the taker are re-checked at each fill (`_fillable`): a
        maker that may not fill all it is offered fills its closing part and is cancelled, and matching
        goes on with the next one; a taker that may not stops there.
        """
        symbol = inst.symbol
        orig = order.qty
        stop = ""
        if book.crosses(order.side, limit):
            k = inst.cash_per_tick_lot
            taker_ppm = inst.taker_fee_ppm if fee_ppm is None else fee_ppm
            maker_ppm = inst.maker_fee_ppm
            accounts = self.accounts
            user = order.origin == "user"
            stp = order.stp
            budget = cost

            def fill(maker: Order, qty: int, price: int) -> tuple[int, int]:
                nonlocal stop, budget
                if stp != STP_NONE and maker.account == order.account:
                    out = 0
                    if stp != STP_EXPIRE_TAKER:
                        self._forget_order(maker, "STP", events)
                        out = MAKER_OUT
                    if stp != STP_EXPIRE_MAKER:
                        stop = "STP"
                        out |= TAKER_OUT
                    return 0, out
                macct = accounts[maker.account]
                mpos = macct.positions[symbol]
                held = maker.reserve if qty == maker.qty else maker.reserve * qty // maker.qty
                n, _, maker_why = self._fillable(macct, mpos, maker, qty, price, k, maker_ppm, held, 0)
                out = MAKER_OUT if n < qty else 0
                if user and n:
                    t, need, why = self._fillable(acct, pos, order, n, price, k, taker_ppm, 0, budget)
                    budget = max(0, budget - need)
                    if t < n:
                        n, out, stop = t, TAKER_OUT, why
                if n:
                    self._settle_fill(order, acct, pos, maker, macct, mpos, n, price, k, taker_ppm, maker_ppm,
                                      events)
                if out & MAKER_OUT:
                    self._forget_order(maker, maker_why, events, maker.qty - n)
                return n, out

            book.match(order, limit, fill)
        if order.qty:
            if order.tif in ("GTC", GTX) and not stop and order.origin == "user":
                order.reserve = ceil_div(cost * order.qty, orig) if cost else 0
                self._track_order(acct, pos, order)
                book.add(order)
            else:
                if stop:
                    reason = stop
                elif order.order_type == MARKET:
                    reason = "MARKET_BAND" if (book.has_ask() if order.side == BUY else book.has_bid()) else "NO_LIQUIDITY"
                else:
                    reason = order.tif
                events.append(OrderCancelled(order.account, symbol, order.oid, order.side, order.price, order.qty, reason))

    def _settle_fill(self, taker: Order, acct: Account, pos: Position, maker: Order, macct: Account,
                     mpos: Position, qty: int, price: int, k: int, taker_ppm: int, maker_ppm: int,
                     events: list) -> None:
        """One trade of qty at price: the Trade event, the maker's reservation released in proportion (all of
        it when it fills up), then both positions and wallets. Quantities are the orders' before the fill."""
        value = qty * price * k
        taker_fee = -((-value * taker_ppm) // PPM)
        maker_fee = -((-value * maker_ppm) // PPM)
        trade_id = self.next_trade_id
        self.next_trade_id = trade_id + 1
        side = taker.side
        symbol = taker.symbol
        events.append(_new(Trade, (symbol, trade_id, price, qty, side, taker.account, taker.oid, maker.account,
                                   maker.oid, taker_fee, maker_fee, taker.origin != "user")))
        if qty == maker.qty:
            self._untrack_order(macct, mpos, maker)
        elif maker.reserve:
            release = maker.reserve * qty // maker.qty
            maker.reserve -= release
            macct.order_margin -= release
        self._fill_position(macct, mpos, -side, qty, price, k, maker_fee, events)
        if taker.origin == "liquidation":
            self._liquidation_fill(taker, acct, pos, qty, price, k, events)
        else:
            self._fill_position(acct, pos, side, qty, price, k, taker_fee, events)
        self.markets[symbol].last = price

    def _fill_position(self, acct: Account, pos: Position, side: int, qty: int, price: int, k: int, fee: int,
                       events: list, close_value: int | None = None, levy: int = 0) -> int:
        """Apply a fill to a position and its wallet; returns the realized PnL.

        close_value, when given, replaces qty*price*k as the value of the closing part (a liquidation
        settles the liquidated account at the bankruptcy price). levy: a partial liquidation's fee, paid to
        the insurance fund from what the closed lots leave (isolated) or from the margin balance (cross).
        """
        size = pos.size
        self.fees_collected += fee
        realized = 0
        closed = 0
        if size and (size > 0) != (side > 0):
            closed = qty if qty <= abs(size) else abs(size)
            removed = closing_cost(pos.cost, size, closed)
            value = closed * price * k if close_value is None else close_value
            realized = -side * value - removed
            pos.cost -= removed
            pos.size = size = size + side * closed
            pos.realized_pnl += realized
        opened = qty - closed
        if opened:
            pos.cost += side * opened * price * k
            pos.size = size + side * opened
        if pos.mode == "CROSS":
            acct.cross_wallet += realized - fee
            levied = max(0, min(levy, acct.cross_wallet + self.cross_totals(acct)[0])) if levy else 0
            acct.cross_wallet -= levied
            wallet = acct.cross_wallet
        else:
            levied = self._settle_isolated(acct, pos, closed, opened, size, price, k, realized, fee,
                                           close_value is None, levy)
            wallet = pos.isolated_wallet
        events.append(_new(PositionChanged, (acct.id, pos.symbol, pos.size, pos.cost, realized, wallet)))
        if levied:
            self._insurance(pos.symbol, levied, "PARTIAL_LIQUIDATION_FEE", acct.id, events)
        if realized and acct is self.fund:
            events.append(InsuranceFundChanged(pos.symbol, realized, wallet, "FUND_POSITION_PNL", acct.id))
        self._position_changed(acct, pos, size)
        return realized

    def _settle_isolated(self, acct: Account, pos: Position, closed: int, opened: int, size_after_close: int,
                         price: int, k: int, realized: int, fee: int, release_margin: bool, levy: int) -> int:
        """The box (isolated wallet) after a fill; returns what of `levy` it paid.

        The fill's PnL and fee are the box's. The closed lots' share of the margin, net of their PnL and
        fee, returns to the cross wallet less the levy (which it bounds), so what stays open keeps its
        margin and its bankruptcy price; a close settled at the bankruptcy price (release_margin False)
        releases nothing until flat. Opening draws the new lots' initial margin and their part of the fee
        from the cross wallet (a fill that opens was checked to have it). A loss beyond the box is the
        insurance fund's, never the cross wallet's. Moves between the wallets are IsolatedMarginChanged
        events (RELEASE, OPEN).
        """
        events = self._events
        symbol = pos.symbol
        fee_open = fee * opened // (closed + opened)
        box = pos.isolated_wallet
        wallet = box + realized - (fee - fee_open)
        if wallet < 0:
            self._cover_bad_debt(acct, symbol, -wallet)
            wallet = 0
        levied = 0
        if closed:
            if size_after_close == 0:
                release = wallet
            elif release_margin:
                share = box * closed // (closed + abs(size_after_close))
                release = max(0, share + wallet - box)
                levied = min(levy, release)
                release -= levied
                wallet -= levied
            else:
                release = 0
            if release:
                wallet -= release
                acct.cross_wallet += release
                events.append(IsolatedMarginChanged(acct.id, symbol, -release, wallet, "RELEASE"))
        if opened:
            margin = initial_margin(opened * price * k, pos.leverage)
            acct.cross_wallet -= margin + fee_open
            events.append(IsolatedMarginChanged(acct.id, symbol, margin + fee_open, wallet + margin + fee_open, "OPEN"))
            wallet += margin
        pos.isolated_wallet = wallet
        return levied

    # -- cancel / amend ------------------------------------------------------------------------
    def _forget_order(self, order: Order, reason: str, events: list, remaining: int | None = None) -> None:
        """Bookkeeping after an order left the book or trigger list: release its reserve and emit.
        `remaining`: the lots cancelled, when the order's own counts are not yet up to date (a fill)."""
        acct = self.accounts[order.account]
        self._untrack_order(acct, acct.positions[order.symbol], order)
        events.append(_new(OrderCancelled, (order.account, order.symbol, order.oid, order.side, order.price,
                                            order.orig_qty - order.filled if remaining is None else remaining,
                                            reason)))

    def _cancel_open_order(self, order: Order, reason: str, events: list) -> None:
        if order.order_type in TRIGGER_TYPES:
            self._disarm_trigger(order)
        else:
            self.books[order.symbol].cancel(order.oid)
        self._forget_order(order, reason, events)

    def _cancel(self, cmd: CancelOrder, events: list) -> None:
        acct = self.accounts.get(cmd.account) if type(cmd.account) is int else None
        order = acct.orders.get(cmd.order_id) if acct and type(cmd.order_id) is int else None
        if order is None or order.symbol != cmd.symbol:
            events.append(OrderRejected(cmd.account, cmd.symbol, "", Reject.UNKNOWN_ORDER.value,
                                        f"no open order {cmd.order_id!r} of account {cmd.account} on {cmd.symbol}"))
            return
        self._cancel_open_order(order, "USER", events)

    def _cancel_all(self, cmd: CancelAll, events: list) -> None:
        acct = self.accounts.get(cmd.account)
        if acct is None:
            events.append(OrderRejected(cmd.account, cmd.symbol, "", Reject.UNKNOWN_ACCOUNT.value, f"unknown account {cmd.account}"))
            return
        self._cancel_orders_of(acct, "USER", events, cmd.symbol)

    def _cancel_orders_of(self, acct: Account, reason: str, events: list, symbol: str | None = None) -> None:
        for order in [o for o in acct.orders.values() if symbol is None or o.symbol == symbol]:
            self._cancel_open_order(order, reason, events)

    def _amend(self, cmd: AmendOrder, events: list) -> None:
        acct = self.accounts.get(cmd.account)
        order = acct.orders.get(cmd.order_id) if acct else None
        try:
            if order is None or order.symbol != cmd.symbol or order.order_type in TRIGGER_TYPES:
                raise Rejection(Reject.UNKNOWN_ORDER, f"no resting order {cmd.order_id!r} of account {cmd.account} on {cmd.symbol}")
            inst = self.instruments[cmd.symbol]
            qty, price = cmd.qty_lots, cmd.price_ticks
            if not _is_int(qty) or qty <= 0 or qty > inst.max_qty_lots:
                raise Rejection(Reject.INVALID_QTY, f"qty {qty!r} lots is outside [1, {inst.max_qty_lots}]")
            if not _is_int(price) or price < inst.min_price_ticks or price > inst.max_price_ticks:
                raise Rejection(Reject.INVALID_PRICE, f"price {price!r} ticks is outside [{inst.min_price_ticks}, {inst.max_price_ticks}]")
            book = self.books[cmd.symbol]
            if order.reduce_only and qty > abs(acct.positions[cmd.symbol].size):
                raise Rejection(Reject.REDUCE_ONLY_REJECTED, f"reduce-only qty {qty} lots exceeds the position "
                                f"{acct.positions[cmd.symbol].size}")
            if price == order.price and qty < order.qty:
                self._check_notional(inst, price, qty, order.reduce_only)
                self._shrink_order(acct, order, qty)
                events.append(OrderAmended(acct.id, cmd.symbol, order.oid, price, qty))
                return
            self._check_band_and_notional(inst, order.side, price, qty, order.reduce_only)
            if order.tif == GTX and book.crosses(order.side, price) and price != order.price:
                raise Rejection(Reject.POST_ONLY_WOULD_TAKE, f"post-only order at {price} ticks would take liquidity")
            pos = acct.positions[cmd.symbol]
            cost = 0
            if self.margin_checks and not order.reduce_only:
                cost = self._order_cost(pos, order.side, qty, price, inst.cash_per_tick_lot, _fee_bound(inst))
                if cost > order.reserve:
                    self._require_available(acct, cost - order.reserve, pos.isolated)
        except Rejection as r:
            events.append(OrderRejected(cmd.account, cmd.symbol, "", r.code.value, r.message))
            return
        # re-queue with a new priority: leave the book, come back as a fresh taker/maker
        book.cancel(order.oid)
        self._untrack_order(acct, pos, order)
        order = Order.from_state(order.state())  # a new object: the cancelled one may still sit in its queue
        order.price = price
        order.qty = order.orig_qty = qty
        order.filled = 0
        order.priority = self.next_order_id
        self.next_order_id += 1
        events.append(OrderAmended(acct.id, cmd.symbol, order.oid, price, qty))
        self._execute(order, acct, pos, inst, book, price, cost, events)
        self._after_trades(cmd.symbol, events)

    @staticmethod
    def _track_order(acct: Account, pos: Position, order: Order) -> None:
        acct.orders[order.oid] = order
        acct.order_margin += order.reserve
        pos.open_orders += 1
        if order.reduce_only:
            pos.reduce_only_orders += 1

    @staticmethod
    def _untrack_order(acct: Account, pos: Position, order: Order) -> None:
        del acct.orders[order.oid]
        acct.order_margin -= order.reserve
        order.reserve = 0
        pos.open_orders -= 1
        if order.reduce_only:
            pos.reduce_only_orders -= 1

    def _trim_reduce_only(self, events: list) -> None:
        """Cancel or shrink resting reduce-only orders that would now increase or flip the position."""
        pending, self.trim_pending = self.trim_pending, {}
        for account, symbol in pending:
            acct = self.accounts[account]
            size = acct.positions[symbol].size
            for order in [o for o in acct.orders.values() if o.reduce_only and o.symbol == symbol]:
                if size == 0 or (size > 0) == (order.side > 0):
                    self._cancel_open_order(order, "REDUCE_ONLY", events)
                elif order.qty > abs(size) and order.order_type not in TRIGGER_TYPES:
                    self._shrink_order(acct, order, abs(size))
                    events.append(OrderAmended(account, symbol, order.oid, order.price, order.qty))

    def _shrink_order(self, acct: Account, order: Order, qty: int) -> None:
        """Lower a resting order's qty in place (keeps priority); its reserve shrinks in proportion."""
        old = order.qty
        self.books[order.symbol].reduce(order.oid, qty)
        new_reserve = order.reserve * qty // old
        acct.order_margin -= order.reserve - new_reserve
        order.reserve = new_reserve
