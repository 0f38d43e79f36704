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

    def _require_available(self, acct: Account, cost: int, isolated: bool = False) -> None:
        """An isolated order draws real cash: unrealized profit cannot become isolated margin."""
        avail = self.free_balance(acct) if isolated else self.available(acct)
        if cost > avail:
            raise Rejection(Reject.INSUFFICIENT_MARGIN, f"order needs {cost} cash units of margin; {avail} available")

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
        self.dirty[acct.id] = None
