"""Account-level margin queries (margin balance, available balance, breach tests) and the bookkeeping
that follows every position change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .accounts import Account, Position
from .errors import Reject, Rejection
from .events import InsuranceFundChanged
from .margin import initial_margin, maint_margin_ppm, notional, unrealized_pnl
from .money import PPM

if TYPE_CHECKING:  # a mixin of Exchange: the other mixins' attributes are there at run time
    from typing import Any as _Base
else:
    _Base = object


class Risk(_Base):
    """Mixin of Exchange: margin arithmetic over an account's positions at the current marks."""

    backing_pending: dict[int, None]

    def _upnl(self, pos: Position) -> int:
        mark = self.markets[pos.symbol].mark
        return unrealized_pnl(pos.size, pos.cost, mark, self.instruments[pos.symbol].cash_per_tick_lot) if mark else 0

    def _notional(self, pos: Position) -> int:
        m = self.markets[pos.symbol]
        return notional(pos.size, m.mark or m.last, self.instruments[pos.symbol].cash_per_tick_lot)

    def _mm_ppm(self, pos: Position) -> int:
        return maint_margin_ppm(self.instruments[pos.symbol], self._notional(pos))

    def _im(self, pos: Position) -> int:
        return initial_margin(self._notional(pos), pos.leverage)

    def cross_totals(self, acct: Account) -> tuple[int, int, int, int]:
        """(sum UPNL, sum MM x 10**6, sum IM, number of positions) of the account's cross positions."""
        upnl = mm = im = n = 0
        markets, instruments = self.markets, self.instruments
        for symbol, pos in acct.positions.items():
            size = pos.size
            if size and pos.mode == "CROSS":
                m = markets[symbol]
                inst = instruments[symbol]
                k = inst.cash_per_tick_lot
                price = m.mark or m.last
                if m.mark:
                    upnl += size * price * k - pos.cost
                notional_cash = (size if size > 0 else -size) * price * k
                mm += maint_margin_ppm(inst, notional_cash)
                im += -((-notional_cash) // pos.leverage)
                n += 1
        return upnl, mm, im, n

    def available(self, acct: Account) -> int:
        """Margin balance of the cross wallet less position IM and open-order margin."""
        upnl, _, im, _ = self.cross_totals(acct)
        return acct.cross_wallet + upnl - im - acct.order_margin

    def free_balance(self, acct: Account) -> int:
        """What may leave the cross wallet (withdrawal, isolated top-up): unrealized profit excluded."""
        upnl, _, im, _ = self.cross_totals(acct)
        return acct.cross_wallet + min(0, upnl) - im - acct.order_margin

    def _margin_room(self, acct: Account, isolated: bool) -> int:
        """What new margin may come from: the available balance, or for an isolated position (which draws
        real cash into its box) the free balance."""
        return self.free_balance(acct) if isolated else self.available(acct)

    def _require_available(self, acct: Account, cost: int, isolated: bool = False) -> None:
        """A new reservation needs margin room and, like every reservation, cash behind it (`backed`)."""
        room = self._margin_room(acct, isolated)
        if cost > room:
            raise Rejection(Reject.INSUFFICIENT_MARGIN, f"order needs {cost} cash units of margin; {room} available")
        cash = acct.cross_wallet - acct.order_margin
        if cost > cash:
            raise Rejection(Reject.INSUFFICIENT_MARGIN, f"order needs {cost} cash units reserved; only {cash} of the "
                            f"cross wallet is not reserved yet (unrealized profit backs margin, not reservations)")

    @staticmethod
    def backed(acct: Account) -> bool:
        """The reservation rule: an account's open orders never reserve more than its cross wallet holds."""
        return acct.order_margin <= max(0, acct.cross_wallet)

    def cross_breached(self, acct: Account) -> tuple[bool, int, int]:
        """(breached, margin balance, maintenance margin x 10**6) of the cross account."""
        upnl, mm, _, n = self.cross_totals(acct)
        mb = acct.cross_wallet + upnl
        return (n > 0 and mb * PPM <= mm), mb, mm

    def isolated_breached(self, pos: Position) -> tuple[bool, int, int]:
        mb = pos.isolated_wallet + self._upnl(pos)
        mm = self._mm_ppm(pos)
        return (pos.size != 0 and mb * PPM <= mm), mb, mm

    def _position_changed(self, acct: Account, pos: Position, size_before: int) -> None:
        if acct is self.fund:  # the fund is neither a holder for ADL and funding nor in the breach index
            return
        holders = self.holders[pos.symbol]
        if pos.size:
            holders[acct.id] = pos
        else:
            holders.pop(acct.id, None)
        self.dirty[acct.id] = None
        if pos.reduce_only_orders:
            self.trim_pending[(acct.id, pos.symbol)] = None
        if acct.order_margin:
            self.backing_pending[acct.id] = None

    def _cover_bad_debt(self, acct: Account, symbol: str, amount: int) -> None:
        """A wallet went below zero: the insurance fund pays it back to zero."""
        self.insurance_fund -= amount
        self._events.append(InsuranceFundChanged(symbol, -amount, self.insurance_fund, "BAD_DEBT", acct.id))

    def _credit_wallet(self, acct: Account, pos: Position, delta: int) -> None:
        """Add cash to the wallet the position lives in (isolated bucket or cross wallet)."""
        if pos.isolated and pos.size:
            pos.isolated_wallet += delta
        else:
            acct.cross_wallet += delta
            if delta < 0 and acct.order_margin:
                self.backing_pending[acct.id] = None
        self.dirty[acct.id] = None

    def _release_unbacked(self, events: list) -> None:
        """Enforce the reservation rule (`backed`) on the accounts whose cross wallet may have lost cash:
        cancel their newest reserving orders until their reservations fit in the wallet again."""
        pending, self.backing_pending = self.backing_pending, {}
        for account in pending:
            acct = self.accounts[account]
            while not self.backed(acct):
                order = next(o for o in reversed(acct.orders.values()) if o.reserve)
                self._cancel_open_order(order, "INSUFFICIENT_MARGIN", events)
