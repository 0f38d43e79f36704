"""The liquidation waterfall, on every mark tick: the breached buckets (from the breach index, checked
exactly), worst margin ratio first; each one's orders cancelled, then its positions closed step by step
through the book with an IOC at the bankruptcy price (partially first where the venue's steps say so),
what the book cannot take taken over by the insurance fund, and what the fund cannot carry deleveraged."""

from __future__ import annotations

from .accounts import Account, Position
from .adl import Deleverager
from .book import Book, Order
from .breach import AUTO_ADD_SCALE_PPM, BreachWatch
from .commands import BUY, CROSS, IOC, SELL
from .events import Event, LiquidationOrderPlaced, LiquidationTriggered, PublicLiquidation
from .instruments import Bracket
from .insurance import InsuranceFund
from .ledger import Ledger
from .margin import band_limit, bankruptcy_price, bankruptcy_ticks
from .market import Market
from .matching import Matching
from .money import PPM, ceil_div, rank_keys, round_half_even_div
from .risk import Risk
from .rules import Venue
from .settlement import CloseValue, Settlement
from .state import State
from .trading import Trading


class LiquidationSettle:
    """How a liquidation order's fills settle. A full close: the account at its bankruptcy value, the
    difference to the fill going to the fund (the penalty first); a partial one: at the fills, with the
    penalty levied from the margin. Counts what the book filled, for the public liquidation event."""

    __slots__ = ("settlement", "ledger", "penalty", "partial", "close", "filled", "filled_value")

    checked = False

    def __init__(self, liquidation: Liquidation, partial: bool, close: CloseValue) -> None:
        self.settlement = liquidation.settlement
        self.ledger = liquidation.ledger
        self.penalty = liquidation.venue.penalty
        self.partial = partial
        self.close = close
        self.filled = 0
        self.filled_value = 0

    def settle_taker(self, acct: Account, pos: Position, side: int, qty: int, price: int, k: int, fee: int,
                     events: list[Event]) -> None:
        trade_value = qty * price * k
        self.filled += qty
        self.filled_value += trade_value
        penalty = self.penalty.fee(self.settlement.state.instruments[pos.symbol], trade_value)
        if self.partial:
            self.close.take(qty)
            self.settlement.fill(acct, pos, side, qty, price, k, 0, events, levy=penalty)
            return
        value = self.close.take(qty)
        self.settlement.fill(acct, pos, side, qty, price, k, 0, events, close_value=value)
        gain = trade_value - value if side == SELL else value - trade_value
        fee_part = max(0, min(gain, penalty))
        if fee_part:
            self.ledger.to_fund(pos.symbol, fee_part, "LIQUIDATION_FEE", acct.id, events)
        if gain - fee_part:
            self.ledger.to_fund(pos.symbol, gain - fee_part, "LIQUIDATION_SURPLUS" if gain > 0 else "LIQUIDATION_DEFICIT",
                                acct.id, events)


class Liquidation:
    """Finds and liquidates the buckets a mark breaches."""

    __slots__ = ("state", "books", "markets", "risk", "watch", "settlement", "ledger", "matching", "trading",
                 "insurance", "adl", "venue", "cooldowns", "examined")

    def __init__(self, state: State, books: dict[str, Book], markets: dict[str, Market], risk: Risk,
                 watch: BreachWatch, settlement: Settlement, ledger: Ledger, matching: Matching, trading: Trading,
                 insurance: InsuranceFund, adl: Deleverager, venue: Venue) -> None:
        self.state = state
        self.books = books
        self.markets = markets
        self.risk = risk
        self.watch = watch
        self.settlement = settlement
        self.ledger = ledger
        self.matching = matching
        self.trading = trading
        self.insurance = insurance
        self.adl = adl
        self.venue = venue
        self.cooldowns: dict[tuple[int, str], int] = {}  # (account, symbol) -> ts_ns a venue's book liquidation waits to
        self.examined = 0  # buckets checked exactly since start (those the breach index let through): a statistic

    def run(self, symbol: str, events: list[Event]) -> None:
        """Liquidate every account or isolated position breached at the current mark, worst first."""
        state = self.state
        if not state.margin_checks:
            return
        crossed = self.watch.crossed(symbol, self.markets[symbol].mark)
        if not crossed:
            return
        risk = self.risk
        breached: list[tuple[int, str, int, int]] = []
        self.examined += len(crossed)
        for account, iso in crossed:
            acct = state.accounts[account]
            if iso:
                pos = acct.positions[symbol]
                if pos.auto_add:
                    self._auto_add(acct, pos, events)
                hit, mb, mm = risk.isolated_breached(pos)
            else:
                hit, mb, mm = risk.cross_breached(acct)
            if hit:
                breached.append((account, symbol if iso else "", mb, mm))
            else:
                state.changed[account] = None
        # worst margin ratio (MM / margin balance, a balance <= 0 counting as 2**62) first, ties by account
        ratios = [(mm, mb * PPM) if mb > 0 else (1 << 62, 1) for _, _, mb, mm in breached]
        order = sorted(zip(rank_keys(ratios), breached), key=lambda e: (-e[0], e[1][0], e[1][1]))
        for _, (account, bucket, mb, mm) in order:
            self._liquidate(state.accounts[account], bucket, mb, mm, events)
        self.watch.flush()

    def _auto_add(self, acct: Account, pos: Position, events: list[Event]) -> None:
        """Top the isolated wallet up to the initial margin from the free cross balance."""
        risk = self.risk
        mb = pos.isolated_wallet + risk.upnl(pos)
        if mb * PPM * PPM > risk.mm_ppm(pos) * AUTO_ADD_SCALE_PPM:
            return
        amount = min(risk.im(pos) - mb, risk.free_balance(acct))
        if amount > 0:
            self.ledger.to_box(acct, pos, amount, "AUTO_ADD", events)
        self.state.changed[acct.id] = None

    def _liquidate(self, acct: Account, bucket: str, mb: int, mm: int, events: list[Event]) -> None:
        """Liquidate a breached cross account (bucket "") or isolated position (bucket = symbol), whose
        margin balance and MM x 10**6 were `mb` and `mm` when found breached: the mark has not moved since,
        so they stand unless a liquidation before it touched the account (a fill, ADL), which marks it
        changed."""
        risk = self.risk
        if acct.id in self.state.changed:  # touched since it was found breached: check again
            hit, mb, mm = risk.bucket_breached(acct, bucket)
            if not hit:
                return
        events.append(LiquidationTriggered(acct.id, bucket, "ISOLATED" if bucket else CROSS, mb, ceil_div(mm, PPM)))
        for order in [o for o in acct.orders.values()
                      if (o.symbol == bucket if bucket else not acct.positions[o.symbol].isolated)]:
            self.trading.cancel_open(order, "LIQUIDATION", events)
        for step in range(64):
            if step and not risk.bucket_breached(acct, bucket)[0]:  # cancelling orders moves no margin
                break
            pos = acct.positions[bucket] if bucket else self._worst_cross_position(acct)
            if pos is None or not pos.size or not self.venue.execution.step(self, acct, pos, events):
                break
        if acct.cross_wallet < 0 and self.risk.collateral.holdings.get(acct.id):
            self.risk.collateral.cover_shortfall(acct, events)
        self.ledger.settle_empty_wallets(acct, events)
        self.state.changed[acct.id] = None

    def _worst_cross_position(self, acct: Account) -> Position | None:
        """The cross position with the lowest UPNL - MM: the losing leg goes first, at a bankruptcy price
        the rest of the account gives it (a winning short behind a crashed long has none)."""
        best = None
        best_key = 0
        for pos in acct.positions.values():
            if pos.size and not pos.isolated:
                key = self.risk.upnl(pos) * PPM - self.risk.mm_ppm(pos)
                if best is None or key < best_key:
                    best, best_key = pos, key
        return best

    def ioc_step(self, acct: Account, pos: Position, events: list[Event]) -> None:
        """One step: a partial liquidation (the venue's steps) for a large position, else a full close."""
        inst = self.state.instruments[pos.symbol]
        k = inst.cash_per_tick_lot
        mark = self.markets[pos.symbol].mark
        lots = abs(pos.size)
        tier = self.risk.tier(pos, lots * mark * k)
        qty = self.venue.steps.partial_lots(tier, lots, mark, k)
        if qty and self._liquidation_order(acct, pos, qty, True, events):
            return
        self._liquidation_order(acct, pos, lots, False, events)

    def _liquidation_order(self, acct: Account, pos: Position, qty: int, partial: bool, events: list[Event]) -> int:
        """Send an IOC at the bankruptcy price through the book; returns the qty filled in the book.

        Full close: the account is settled at the bankruptcy price, the fill's difference goes to the
        insurance fund, and what the book cannot take is taken over by the fund or deleveraged. Partial:
        settled at the fills, with the penalty. The limit may go past the bankruptcy price (never beyond
        the market band) only as far as the insurance fund can pay for.
        """
        state = self.state
        symbol = pos.symbol
        inst = state.instruments[symbol]
        k = inst.cash_per_tick_lot
        mark = self.markets[symbol].mark
        side = SELL if pos.size > 0 else BUY
        other = self.risk.backing(acct, pos)
        bp = bankruptcy_price(pos.size, pos.cost, other, k)
        edge = band_limit(mark, inst.market_band_ppm, side)
        if bp is None:  # solvent at any price: close into the book within the band
            bp_ticks = edge
            partial = True
        else:
            bp_ticks = bankruptcy_ticks(bp, side)
        reach = 0 if partial else self.ledger.insurance_fund // (qty * k)
        if side == SELL:
            limit = max(1, min(bp_ticks, max(bp_ticks - reach, edge)))
        else:
            limit = max(bp_ticks, min(bp_ticks + reach, edge))
        value = 0 if partial else (pos.cost - other if side == SELL else other - pos.cost)
        close = CloseValue(value, qty)
        policy = LiquidationSettle(self, partial, close)
        oid = state.new_order_id()
        order = Order(oid, acct.id, side, limit, qty, oid, symbol, tif=IOC, origin="liquidation")
        events.append(LiquidationOrderPlaced(acct.id, symbol, order.oid, side, qty, limit, bp_ticks, partial))
        self.matching.execute(order, acct, pos, inst, self.books[symbol], limit, 0, events, policy, 0)
        if not partial and order.qty:
            rest = order.qty - self.insurance.take_over(acct, pos, order.qty, side, bp_ticks, close, events)
            if rest:
                self.adl.deleverage(acct, pos, rest, side, bp_ticks, close, events)
        avg = round_half_even_div(policy.filled_value, policy.filled * k) if policy.filled else 0
        events.append(PublicLiquidation(symbol, side, qty, bp_ticks, policy.filled, avg,
                                        "ISOLATED" if pos.isolated else CROSS))
        self.trading.after_trades(symbol, events)
        return policy.filled

    # -- what the executions of other venues use (rules.LiquidationOps) ---------------------------
    def bucket(self, acct: Account, pos: Position) -> tuple[int, int]:
        _, mb, mm = self.risk.bucket_breached(acct, pos.symbol if pos.isolated else "")
        return mb, mm

    def position_mm_ppm(self, pos: Position) -> int:
        return self.risk.mm_ppm(pos)

    def mark(self, symbol: str) -> int:
        return self.markets[symbol].mark

    def now(self) -> int:
        return self.state.ts_ns

    def k(self, pos: Position) -> int:
        return self.state.instruments[pos.symbol].cash_per_tick_lot

    def cap_lots(self, pos: Position, index: int) -> int:
        return self.venue.tiers.cap_lots(self.state.instruments[pos.symbol], index, self.markets[pos.symbol].mark)

    def tier_of(self, pos: Position) -> tuple[int, Bracket]:
        inst = self.state.instruments[pos.symbol]
        tier = self.risk.tier(pos, self.risk.notional(pos))
        return inst.brackets.index(tier), tier

    def band_edge(self, pos: Position) -> int:
        inst = self.state.instruments[pos.symbol]
        return band_limit(self.markets[pos.symbol].mark, inst.market_band_ppm, SELL if pos.size > 0 else BUY)

    def cooldown(self, acct: Account, pos: Position) -> int:
        return self.cooldowns.get((acct.id, pos.symbol), 0)

    def set_cooldown(self, acct: Account, pos: Position, until_ns: int) -> None:
        key = (acct.id, pos.symbol)
        if until_ns:
            self.cooldowns[key] = until_ns
        else:
            self.cooldowns.pop(key, None)

    def book_close(self, acct: Account, pos: Position, qty: int, limit: int, fok: bool, events: list[Event]) -> int:
        """A liquidation order of qty at `limit` (0: the bankruptcy price, or the band's edge when there is
        none) into the book (FOK: only if all of it fills there), settled at its fills with the venue's
        penalty levied from the margin; returns the lots filled."""
        symbol = pos.symbol
        inst = self.state.instruments[symbol]
        side = SELL if pos.size > 0 else BUY
        book = self.books[symbol]
        k = inst.cash_per_tick_lot
        bp = bankruptcy_price(pos.size, pos.cost, self.risk.backing(acct, pos), k)
        bp_ticks = self.band_edge(pos) if bp is None else bankruptcy_ticks(bp, side)
        limit = limit or bp_ticks
        if fok and not book.fillable(side, limit, qty):
            return 0
        policy = LiquidationSettle(self, True, CloseValue(0, qty))
        oid = self.state.new_order_id()
        order = Order(oid, acct.id, side, limit, qty, oid, symbol, tif=IOC, origin="liquidation")
        events.append(LiquidationOrderPlaced(acct.id, symbol, oid, side, qty, limit, bp_ticks, True))
        self.matching.execute(order, acct, pos, inst, book, limit, 0, events, policy, 0)
        avg = round_half_even_div(policy.filled_value, policy.filled * k) if policy.filled else 0
        events.append(PublicLiquidation(symbol, side, qty, bp_ticks, policy.filled, avg,
                                        "ISOLATED" if pos.isolated else CROSS))
        self.trading.after_trades(symbol, events)
        return policy.filled

    def take_over(self, acct: Account, pos: Position, events: list[Event], fund: bool = True) -> None:
        """The whole position to the insurance fund at its bankruptcy price (`fund`: if it can carry it), else
        deleveraged at it (solvent at any price: into the book within the band instead)."""
        symbol = pos.symbol
        k = self.state.instruments[symbol].cash_per_tick_lot
        side = SELL if pos.size > 0 else BUY
        qty = abs(pos.size)
        other = self.risk.backing(acct, pos)
        bp = bankruptcy_price(pos.size, pos.cost, other, k)
        if bp is None:
            self.book_close(acct, pos, qty, self.band_edge(pos), False, events)
            return
        bp_ticks = bankruptcy_ticks(bp, side)
        close = CloseValue(pos.cost - other if side == SELL else other - pos.cost, qty)
        self.set_cooldown(acct, pos, 0)
        if not (fund and self.insurance.take_over(acct, pos, qty, side, bp_ticks, close, events)):
            self.adl.deleverage(acct, pos, qty, side, bp_ticks, close, events)
        events.append(PublicLiquidation(symbol, side, qty, bp_ticks, 0, 0, "ISOLATED" if pos.isolated else CROSS))
        self.trading.after_trades(symbol, events)
