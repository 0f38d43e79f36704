"""The insurance fund's own book: what it takes over of a liquidation the market could not absorb, and
how it sells that down (a share per mark tick into the book, or deleveraged once its equity is gone)."""

from __future__ import annotations

from .accounts import Account, Position
from .adl import Deleverager
from .book import Book, Order
from .commands import BUY, IOC, SELL
from .events import Event, TakenOverByFund
from .ledger import Ledger
from .margin import band_limit, bankruptcy_price, bankruptcy_ticks, unrealized_pnl
from .market import Market
from .matching import Matching
from .money import PPM, ceil_div
from .risk import Risk
from .settlement import AtFillPrice, CloseValue, Settlement
from .state import State
from .trading import Trading


class InsuranceFund:
    """The fund's cash is the Ledger's; this is what it does with positions."""

    __slots__ = ("state", "books", "markets", "risk", "settlement", "ledger", "matching", "trading", "adl", "forced")

    def __init__(self, state: State, books: dict[str, Book], markets: dict[str, Market], risk: Risk,
                 settlement: Settlement, ledger: Ledger, matching: Matching, trading: Trading,
                 adl: Deleverager) -> None:
        self.state = state
        self.books = books
        self.markets = markets
        self.risk = risk
        self.settlement = settlement
        self.ledger = ledger
        self.matching = matching
        self.trading = trading
        self.adl = adl
        self.forced = AtFillPrice(settlement, checked=False)

    def equity(self, exclude: Position | None = None) -> int:
        """The fund's cash + the UPNL at mark of its positions (but `exclude`)."""
        fund = self.state.fund
        return fund.cross_wallet + sum(self.risk.upnl(p) for p in fund.positions.values() if p.size and p is not exclude)

    def take_over(self, acct: Account, pos: Position, qty: int, side: int, bp_ticks: int, close: CloseValue,
                  events: list[Event]) -> int:
        """Take what the book could not at the bankruptcy price onto the fund's books, if the fund can
        carry it: its equity afterwards must cover a move of one market band against all it holds.
        Returns the qty taken (all or nothing)."""
        symbol = pos.symbol
        inst = self.state.instruments[symbol]
        k = inst.cash_per_tick_lot
        fund = self.state.fund
        fpos = fund.positions[symbol]
        mark = self.markets[symbol].mark
        size, cost = fpos.size - side * qty, fpos.cost - side * qty * bp_ticks * k
        equity = self.equity(fpos) + unrealized_pnl(size, cost, mark, k)
        exposure = abs(size) * mark * k + sum(self.risk.notional(p) for p in fund.positions.values()
                                              if p.size and p is not fpos)
        if equity * PPM < exposure * inst.market_band_ppm:
            return 0
        value = close.take(qty)
        self.settlement.fill(acct, pos, side, qty, bp_ticks, k, 0, events, close_value=value)
        self.settlement.fill(fund, fpos, -side, qty, bp_ticks, k, 0, events)
        trade_value = qty * bp_ticks * k
        rounding = trade_value - value if side == SELL else value - trade_value
        if rounding:
            self.ledger.to_fund(symbol, rounding, "TAKEOVER_ROUNDING", acct.id, events)
        events.append(TakenOverByFund(acct.id, symbol, qty, bp_ticks))
        return qty

    def unwind(self, symbol: str, events: list[Event]) -> None:
        """On each mark tick, the fund offers a share (`fund_unwind_ppm`) of what it holds to the book within
        the market band; if its equity is gone, what it holds is deleveraged at its bankruptcy price."""
        state = self.state
        inst = state.instruments[symbol]
        k = inst.cash_per_tick_lot
        fund = state.fund
        fpos = fund.positions[symbol]
        qty = abs(fpos.size)
        side = SELL if fpos.size > 0 else BUY
        mark = self.markets[symbol].mark
        if self.equity() <= 0:
            other = self.equity(fpos)
            bp = bankruptcy_price(fpos.size, fpos.cost, other, k)
            bp_ticks = mark if bp is None else bankruptcy_ticks(bp, side)
            value = fpos.cost - other if side == SELL else other - fpos.cost
            self.adl.deleverage(fund, fpos, qty, side, bp_ticks, CloseValue(value, qty), events)
            return
        limit = band_limit(mark, inst.market_band_ppm, side)
        book = self.books[symbol]
        if not book.crosses(side, limit):
            return
        offer = min(qty, max(1, ceil_div(qty * inst.fund_unwind_ppm, PPM)))
        oid = state.new_order_id()
        order = Order(oid, fund.id, side, limit, offer, oid, symbol, tif=IOC, origin="fund")
        self.matching.execute(order, fund, fpos, inst, book, limit, 0, events, self.forced, 0)
        self.trading.after_trades(symbol, events)
