"""Auto-deleveraging: what neither the book nor the insurance fund took of a liquidation is closed
against the opposite positions, first to be deleveraged first (the venue's ranking), at the venue's
ADL price."""

from __future__ import annotations

from collections.abc import Iterator
from heapq import heapify, heappop

from .accounts import Account, Position
from .commands import SELL
from .events import Deleveraged, Event
from .ledger import Ledger
from .market import Market
from .risk import Risk
from .rules import AdlRule
from .settlement import CloseValue, Settlement
from .money import rank_keys
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
        if price != bp_ticks:  # a venue closing at another price: the fund pays the gap only as far as it can
            reach = self.ledger.insurance_fund // (qty * k)
            price = max(price, bp_ticks - reach) if side == SELL else min(price, bp_ticks + reach)
        fill = self.settlement.fill
        for cp in self.ranked(symbol, side, price, exclude=acct.id):  # shorts when selling
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
                self.ledger.to_fund(symbol, rounding, "ADL_ROUNDING" if price == bp_ticks else "ADL_PRICE_GAP", acct.id,
                                    events)
            events.append(Deleveraged(acct.id, symbol, take, price, cp.account))
            events.append(Deleveraged(cp.account, symbol, take, price, acct.id))
            qty -= take

    def _keyed(self, symbol: str, sign: int, price: int, exclude: int) -> list[tuple[int, int, Position]]:
        """(-rank key, account, position) of the positions on the `sign` side (+1 long), exact integer
        keys of the rule's scores at `price` (`money.rank_keys`)."""
        inst = self.state.instruments[symbol]
        k = inst.cash_per_tick_lot
        accounts = self.state.accounts
        maint = self.risk.venue.maint_ppm
        key = self.rule.key
        seq = self.state.seq
        candidates = []
        scores = []
        for a, p in self.state.holders[symbol].items():
            size = p.size
            if a != exclude and (size > 0) == (sign > 0):
                lots = size if size > 0 else -size
                wallet = p.isolated_wallet if p.isolated else accounts[a].cross_wallet
                candidates.append(p)
                notional_cash = lots * price * k
                scores.append(key(size * price * k - p.cost, wallet, maint(inst, lots, notional_cash), p, notional_cash, seq))
        return [(-rk, p.account, p) for rk, p in zip(rank_keys(scores), candidates)]

    def ranked(self, symbol: str, sign: int, price: int, exclude: int = -1) -> Iterator[Position]:
        """The `sign` side's positions, first to be deleveraged first (ties: account id), ranked only as
        far as they are taken (a heap)."""
        heap = self._keyed(symbol, sign, price, exclude)
        heapify(heap)
        while heap:
            yield heappop(heap)[2]

    def ranking(self, symbol: str, sign: int, price: int, exclude: int = -1) -> list[Position]:
        """All of `ranked`, in order."""
        return [p for _, _, p in sorted(self._keyed(symbol, sign, price, exclude), key=lambda e: (e[0], e[1]))]

    def quantile(self, account: int, symbol: str) -> int:
        """0..4: the position's ADL rank among its side at the current mark (4 = first in line)."""
        pos = self.state.accounts[account].positions.get(symbol)
        if pos is None or not pos.size:
            return 0
        ranking = self.ranking(symbol, 1 if pos.size > 0 else -1, self.markets[symbol].mark)
        rank = next(i for i, p in enumerate(ranking) if p.account == account)
        return min(4, 5 * (len(ranking) - 1 - rank) // len(ranking))
