"""Auto-deleveraging: what neither the book nor the insurance fund took of a liquidation is closed
against the opposite positions, first to be deleveraged first (the venue's ranking), at the venue's
ADL price."""

from __future__ import annotations

from fractions import Fraction

from .accounts import Account, Position
from .commands import SELL
from .events import Deleveraged, Event
from .ledger import Ledger
from .market import Market
from .risk import Risk
from .rules import AdlRule
from .settlement import CloseValue, Settlement
from .state import State
from .trading import Trading


class Deleverager:
    """Ranks the holders of a symbol and closes a liquidated position against them."""

    __slots__ = ("state", "markets", "risk", "settlement", "ledger", "trading", "rule")

    def __init__(self, state: State, markets: dict[str, Market], risk: Risk, settlement: Settlement, ledger: Ledger,
                 trading: Trading, rule: AdlRule) -> None:
        self.state = state
        self.markets = markets
        self.risk = risk
        self.settlement = settlement
        self.ledger = ledger
        self.trading = trading
        self.rule = rule

    def deleverage(self, acct: Account, pos: Position, qty: int, side: int, bp_ticks: int, close: CloseValue,
                   events: list[Event]) -> None:
        """Close `qty` of `pos` (a `side` close) against the ranked opposite positions, each of which loses
        its open orders in the symbol first. The liquidated side settles at its bankruptcy value."""
        symbol = pos.symbol
        k = self.state.instruments[symbol].cash_per_tick_lot
        price = self.rule.price(bp_ticks, self.markets[symbol].mark)
        fill = self.settlement.fill
        for cp in self.ranking(symbol, side, price, exclude=acct.id):  # shorts when selling
            if not qty:
                break
            cacct = self.state.accounts[cp.account]
            take = min(qty, abs(cp.size))
            self.trading.cancel_orders_of(cacct, "ADL", events, symbol)
            value = close.take(take)
            fill(acct, pos, side, take, price, k, 0, events, close_value=value)
            fill(cacct, cp, -side, take, price, k, 0, events)
            trade_value = take * price * k
            rounding = trade_value - value if side == SELL else value - trade_value
            if rounding:
                self.ledger.to_fund(symbol, rounding, "ADL_ROUNDING", acct.id, events)
            events.append(Deleveraged(acct.id, symbol, take, price, cp.account))
            events.append(Deleveraged(cp.account, symbol, take, price, acct.id))
            qty -= take

    def score(self, pos: Position, price: int) -> Fraction:
        """The position's ADL score at `price` (higher: deleveraged earlier)."""
        inst = self.state.instruments[pos.symbol]
        k = inst.cash_per_tick_lot
        upnl = pos.size * price * k - pos.cost
        wallet = pos.isolated_wallet if pos.isolated else self.state.accounts[pos.account].cross_wallet
        lots = abs(pos.size)
        num, den = self.rule.key(upnl, wallet, self.risk.venue.maint_ppm(inst, lots, lots * price * k))
        return Fraction(num, den)

    def ranking(self, symbol: str, sign: int, price: int, exclude: int = -1) -> list[Position]:
        """Positions on the `sign` side (+1 long), first to be deleveraged first (ties: account id)."""
        candidates = [p for a, p in self.state.holders[symbol].items() if a != exclude and (p.size > 0) == (sign > 0)]
        return sorted(candidates, key=lambda p: (-self.score(p, price), p.account))

    def quantile(self, account: int, symbol: str) -> int:
        """0..4: the position's ADL rank among its side at the current mark (4 = first in line)."""
        pos = self.state.accounts[account].positions.get(symbol)
        if pos is None or not pos.size:
            return 0
        ranking = self.ranking(symbol, 1 if pos.size > 0 else -1, self.markets[symbol].mark)
        rank = next(i for i, p in enumerate(ranking) if p.account == account)
        return min(4, 5 * (len(ranking) - 1 - rank) // len(ranking))
