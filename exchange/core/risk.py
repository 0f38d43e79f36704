"""Risk: margin at the current marks (balances, requirements, breach tests, the cash behind a position),
what an order needs, which part of a fill an account can pay for, and reservations (the margin held by
open orders, always backed by cash in the cross wallet)."""

from __future__ import annotations

from .accounts import Account, Position
from .book import Order
from .collateral import Collateral
from .commands import CROSS
from .errors import Reject, Rejection
from .instruments import Bracket, Instrument
from .margin import initial_margin, notional, unrealized_pnl
from .market import Market
from .money import PPM, ceil_div
from .rules import Venue
from .state import State


def fee_bound(inst: Instrument) -> int:
    """The fee rate an order reserves for: the higher of maker and taker (it may fill as either)."""
    return max(inst.maker_fee_ppm, inst.taker_fee_ppm)


class Risk:
    """Margin arithmetic over an account's positions at the current marks, and its reservations."""

    __slots__ = ("state", "markets", "venue", "plain", "collateral")

    def __init__(self, state: State, markets: dict[str, Market], venue: Venue, collateral: Collateral) -> None:
        self.state = state
        self.markets = markets
        self.venue = venue
        self.collateral = collateral  # its haircut value counts as cross cash (`cross_cash`)
        self.plain = venue.plain_maintenance  # every MM is the tier form at the mark (Binance)

    # -- one position --------------------------------------------------------------------------
    def upnl(self, pos: Position) -> int:
        mark = self.markets[pos.symbol].mark
        return unrealized_pnl(pos.size, pos.cost, mark, self.state.instruments[pos.symbol].cash_per_tick_lot) if mark else 0

    def notional(self, pos: Position) -> int:
        m = self.markets[pos.symbol]
        return notional(pos.size, m.mark or m.last, self.state.instruments[pos.symbol].cash_per_tick_lot)

    def mm_ppm(self, pos: Position) -> int:
        inst = self.state.instruments[pos.symbol]
        if self.plain:
            return self.venue.maint_ppm(inst, abs(pos.size), self.notional(pos))
        return self.venue.position_mm_ppm(inst, pos, self.notional(pos))

    def im(self, pos: Position) -> int:
        return initial_margin(self.notional(pos), pos.leverage)

    def tier(self, pos: Position, notional_cash: int) -> Bracket:
        """The position's tier if it were worth `notional_cash`."""
        return self.venue.tiers.tier(self.state.instruments[pos.symbol], abs(pos.size), notional_cash)

    # -- an account ----------------------------------------------------------------------------
    def cross_totals(self, acct: Account) -> tuple[int, int, int, int]:
        """(sum UPNL, sum MM x 10**6, sum IM, number of positions) of the account's cross positions."""
        upnl = mm = im = n = 0
        markets, instruments, maint, plain = self.markets, self.state.instruments, self.venue.maint_ppm, self.plain
        for symbol, pos in acct.positions.items():
            size = pos.size
            if size and pos.mode == CROSS:
                m = markets[symbol]
                inst = instruments[symbol]
                k = inst.cash_per_tick_lot
                price = m.mark or m.last
                if m.mark:
                    upnl += size * price * k - pos.cost
                lots = size if size > 0 else -size
                notional_cash = lots * price * k
                mm += maint(inst, lots, notional_cash) if plain else self.venue.position_mm_ppm(inst, pos, notional_cash)
                im += -((-notional_cash) // pos.leverage)
                n += 1
        return upnl, mm, im, n

    def cross_upnl_im(self, acct: Account) -> tuple[int, int]:
        """(sum UPNL, sum IM) of the account's cross positions: `cross_totals` without the MM."""
        upnl = im = 0
        markets, instruments = self.markets, self.state.instruments
        for symbol, pos in acct.positions.items():
            size = pos.size
            if size and pos.mode == CROSS:
                m = markets[symbol]
                k = instruments[symbol].cash_per_tick_lot
                price = m.mark or m.last
                if m.mark:
                    upnl += size * price * k - pos.cost
                im += -((-(size if size > 0 else -size) * price * k) // pos.leverage)
        return upnl, im

    def cross_cash(self, acct: Account) -> int:
        """The cross wallet plus the haircut value of the account's collateral (docs/venues.md)."""
        return acct.cross_wallet + self.collateral.value(acct.id) if self.collateral.holdings else acct.cross_wallet

    def available(self, acct: Account) -> int:
        """Margin balance of the cross wallet less position IM and open-order margin."""
        upnl, im = self.cross_upnl_im(acct)
        return self.cross_cash(acct) + upnl - im - acct.order_margin

    def free_balance(self, acct: Account) -> int:
        """What may leave the cross wallet (withdrawal, isolated top-up): unrealized profit excluded."""
        upnl, im = self.cross_upnl_im(acct)
        return self.cross_cash(acct) + min(0, upnl) - im - acct.order_margin

    def margin_room(self, acct: Account, isolated: bool) -> int:
        """What new margin may come from: the available balance, or for an isolated position (which draws
        real cash into its box) the free balance."""
        return self.free_balance(acct) if isolated else self.available(acct)

    def require_available(self, acct: Account, cost: int, isolated: bool = False) -> None:
        """A new reservation needs margin room and, like every reservation, cash behind it (`backed`)."""
        room = self.margin_room(acct, isolated)
        if cost > room:
            raise Rejection(Reject.INSUFFICIENT_MARGIN, f"order needs {cost} cash units of margin; {room} available")
        cash = (acct.cross_wallet if isolated else self.cross_cash(acct)) - acct.order_margin
        if cost > cash:
            raise Rejection(Reject.INSUFFICIENT_MARGIN, f"order needs {cost} cash units reserved; only {cash} of the "
                            f"cross wallet is not reserved yet (unrealized profit backs margin, not reservations)")

    def cross_breached(self, acct: Account) -> tuple[bool, int, int]:
        """(breached, margin balance, maintenance margin x 10**6) of the cross account."""
        upnl, mm, _, n = self.cross_totals(acct)
        mb = self.cross_cash(acct) + upnl
        return (n > 0 and self.venue.breach.breached(mb, mm)), mb, mm

    def isolated_breached(self, pos: Position) -> tuple[bool, int, int]:
        """(breached, margin balance, maintenance margin x 10**6) of the isolated position."""
        mb = pos.isolated_wallet + self.upnl(pos)
        mm = self.mm_ppm(pos)
        return (pos.size != 0 and self.venue.breach.breached(mb, mm)), mb, mm

    def bucket_breached(self, acct: Account, bucket: str) -> tuple[bool, int, int]:
        """The cross account (bucket "") or the isolated position of symbol `bucket`."""
        return self.isolated_breached(acct.positions[bucket]) if bucket else self.cross_breached(acct)

    def backing(self, acct: Account, pos: Position) -> int:
        """The cash behind a position besides its own value: its isolated wallet, or the cross wallet plus
        the other cross positions' UPNL."""
        if pos.isolated:
            return pos.isolated_wallet
        other = self.cross_cash(acct)
        for p in acct.positions.values():
            if p is not pos and p.size and not p.isolated:
                other += self.upnl(p)
        return other

    def others_mm_ppm(self, acct: Account, pos: Position) -> int:
        """Maintenance margin x 10**6 of the cross positions besides `pos` (none behind an isolated one)."""
        if pos.isolated:
            return 0
        return sum(self.mm_ppm(p) for p in acct.positions.values() if p is not pos and p.size and not p.isolated)

    # -- what an order needs -------------------------------------------------------------------
    def reserve(self, acct: Account, pos: Position, inst: Instrument, side: int, qty: int, price: int) -> int:
        """What a new order reserves (`order_cost` at the higher of the two fee rates), checked: the
        position it would open fits a tier that allows the symbol's leverage, the account has the room
        and the cash (`require_available`). Raises Rejection."""
        cost = self.order_cost(pos, side, qty, price, inst.cash_per_tick_lot, fee_bound(inst))
        if cost:
            lots = abs(pos.size + side * qty)
            target = lots * price * inst.cash_per_tick_lot
            tier = self.venue.tiers.tier(inst, lots, target)
            if tier.max_leverage < pos.leverage:
                raise Rejection(Reject.INVALID_LEVERAGE, f"a position of notional {target} allows at most "
                                f"{tier.max_leverage}x leverage; this symbol is set to {pos.leverage}x")
            self.require_available(acct, cost, pos.isolated)
        return cost

    def order_cost(self, pos: Position, side: int, qty: int, price: int, k: int, fee_ppm: int) -> int:
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

    def fillable(self, acct: Account, pos: Position, order: Order, qty: int, price: int, k: int, fee_ppm: int,
                 held: int, prepaid: int) -> tuple[int, int, str]:
        """(lots of qty the order may fill now, what they need, why not all of qty).

        A fill may reduce the position only by what is left of it; what opens or extends it needs its
        margin at this moment (`order_cost`): within `prepaid` (a taker's reservation, checked in this same
        command), or within the account's margin room (available, or the free balance for an isolated
        position) plus `held` (what of a resting order's reservation this fill releases). Short of that,
        the closing part and as many opening lots as the room pays for.
        """
        size = pos.size
        side = order.side
        closing = (qty if qty < abs(size) else abs(size)) if size and (size > 0) != (side > 0) else 0
        if closing == qty or not self.state.margin_checks:
            return qty, 0, ""
        if order.reduce_only:
            return closing, 0, "REDUCE_ONLY"
        cost = self.order_cost
        need = cost(pos, side, qty, price, k, fee_ppm)
        if need <= prepaid:
            return qty, need, ""
        room = max(prepaid, self.margin_room(acct, pos.isolated) + held)
        if need <= room:
            return qty, need, ""
        extra = (qty - closing) * max(0, room) // need  # the need is linear in the lots, but for rounding
        while extra and cost(pos, side, closing + extra, price, k, fee_ppm) > room:
            extra -= 1
        return closing + extra, cost(pos, side, closing + extra, price, k, fee_ppm), "INSUFFICIENT_MARGIN"

    # -- reservations --------------------------------------------------------------------------
    @staticmethod
    def hold(acct: Account, pos: Position, order: Order) -> None:
        """An order becomes open: its account holds its reservation and counts it."""
        acct.orders[order.oid] = order
        acct.order_margin += order.reserve
        pos.open_orders += 1
        if order.reduce_only:
            pos.reduce_only_orders += 1

    @staticmethod
    def release(acct: Account, pos: Position, order: Order) -> None:
        """An order is no longer open: all of its reservation returns."""
        del acct.orders[order.oid]
        acct.order_margin -= order.reserve
        order.reserve = 0
        pos.open_orders -= 1
        if order.reduce_only:
            pos.reduce_only_orders -= 1

    @staticmethod
    def release_share(acct: Account, order: Order, qty: int) -> None:
        """The reservation of `qty` of the order's remaining lots returns (a fill of them, a shrink)."""
        if order.reserve:
            release = order.reserve * qty // order.qty
            order.reserve -= release
            acct.order_margin -= release

    @staticmethod
    def shrink(acct: Account, order: Order, qty: int) -> None:
        """The order keeps a reservation in proportion to its new remaining `qty` (before it changes)."""
        new_reserve = order.reserve * qty // order.qty
        acct.order_margin -= order.reserve - new_reserve
        order.reserve = new_reserve

    def backed(self, acct: Account) -> bool:
        """The reservation rule: an account's open orders never reserve more than its cross wallet holds
        (with its collateral at the haircut value)."""
        return acct.order_margin <= max(0, self.cross_cash(acct))

    def unbacked_orders(self) -> list[Order]:
        """The orders to cancel so that every account marked for a re-check is `backed` again: its newest
        reserving orders first, until its reservations fit in its cross wallet."""
        pending, self.state.recheck = self.state.recheck, {}
        out = []
        accounts = self.state.accounts
        for account in pending:
            acct = accounts[account]
            excess = acct.order_margin - max(0, self.cross_cash(acct))
            if excess <= 0:
                continue
            for order in reversed(acct.orders.values()):
                if order.reserve:
                    out.append(order)
                    excess -= order.reserve
                    if excess <= 0:
                        break
        return out

    def check_invariants(self) -> None:
        for acct in self.state.accounts.values():
            assert self.backed(acct), f"account {acct.id} reserves {acct.order_margin} on a cross wallet of {acct.cross_wallet}"
