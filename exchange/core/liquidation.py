"""The liquidation engine: breach index, trigger on every mark tick, partial liquidation by bracket,
close at the bankruptcy price through the book, insurance fund, auto-deleveraging.

Breach index: per symbol, long entries breach when mark <= threshold, short entries when
mark >= threshold, each in a SortedList so a tick with nobody breached costs O(1) whatever the
number of accounts. An isolated position and a single-symbol cross account are indexed at their
exact liquidation price. A cross account holding k symbols splits its margin cushion (margin balance
- maintenance margin) into k equal shares and is indexed in each symbol at the price that would use
up that symbol's share: no breach can happen before one of them is crossed. Only accounts whose state
changed are re-indexed.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from sortedcontainers import SortedList

from .accounts import Account, Position
from .book import Order
from .commands import BUY, CROSS, IOC, SELL
from .events import (
    Deleveraged, InsuranceFundChanged, IsolatedMarginChanged, LiquidationOrderPlaced, LiquidationTriggered,
    PublicLiquidation, TakenOverByFund,
)
from .margin import bankruptcy_price, maint_margin_ppm, solve_price, unrealized_pnl
from .money import PPM, ceil_div

if TYPE_CHECKING:  # a mixin of Exchange: the other mixins' attributes are there at run time
    from typing import Any as _Base
else:
    _Base = object

ALWAYS = 1 << 62  # a long threshold that every mark crosses
AUTO_ADD_SCALE_PPM = 1_250_000  # auto-add margin when margin ratio reaches 80%


class BreachIndex:
    """Thresholds keyed by (account, symbol, isolated)."""

    __slots__ = ("longs", "shorts", "entries")

    def __init__(self, symbols: list[str]) -> None:
        self.longs = {s: SortedList() for s in symbols}
        self.shorts = {s: SortedList() for s in symbols}
        self.entries: dict[tuple[int, str, int], tuple[bool, int]] = {}

    def put(self, account: int, symbol: str, iso: int, is_long: bool, threshold: int) -> None:
        key = (account, symbol, iso)
        old = self.entries.get(key)
        if old is not None:
            if old == (is_long, threshold):
                return
            (self.longs if old[0] else self.shorts)[symbol].remove((old[1], account, iso))
        self.entries[key] = (is_long, threshold)
        (self.longs if is_long else self.shorts)[symbol].add((threshold, account, iso))

    def discard(self, account: int, symbol: str, iso: int) -> None:
        old = self.entries.pop((account, symbol, iso), None)
        if old is not None:
            (self.longs if old[0] else self.shorts)[symbol].remove((old[1], account, iso))

    def pop_crossed(self, symbol: str, mark: int) -> list[tuple[int, int]]:
        """Remove and return (account, iso) of every entry the mark has crossed."""
        out = []
        longs, shorts = self.longs[symbol], self.shorts[symbol]
        while longs and longs[-1][0] >= mark:
            _, account, iso = longs.pop()
            del self.entries[(account, symbol, iso)]
            out.append((account, iso))
        while shorts and shorts[0][0] <= mark:
            _, account, iso = shorts.pop(0)
            del self.entries[(account, symbol, iso)]
            out.append((account, iso))
        return out

    def state(self) -> list:
        return sorted(self.entries.items())


def _threshold(price: tuple[int, int] | None, is_long: bool) -> int:
    """Long: breached iff mark <= floor(P). Short: iff mark >= ceil(P). No P: never (long) / always (short)."""
    if price is None:
        return 0
    num, den = price
    return num // den if is_long else -((-num) // den)


class LiquidationContext:
    """Settlement state of one liquidation order: the bankruptcy value still to be credited."""

    __slots__ = ("partial", "value_left", "qty_left", "filled", "filled_value")

    def __init__(self, partial: bool, value: int, qty: int) -> None:
        self.partial = partial
        self.value_left = value
        self.qty_left = qty
        self.filled = 0
        self.filled_value = 0

    def take(self, qty: int) -> int:
        value = self.value_left if qty == self.qty_left else self.value_left * qty // self.qty_left
        self.value_left -= value
        self.qty_left -= qty
        return value


class Liquidation(_Base):
    """Mixin of Exchange."""

    dirty: dict[int, None]
    liquidation: LiquidationContext | None

    # -- indexing ------------------------------------------------------------------------------
    def breach_entries(self) -> dict[tuple[int, str, int], tuple[bool, int]]:
        """The breach index, (account, symbol, isolated) -> (is_long, threshold ticks), brought up to date."""
        self._flush_dirty()
        return self.breach_index.entries

    def _flush_dirty(self) -> None:
        """Re-index the accounts whose state changed. Done lazily, before the index is read (a mark tick,
        a funding settlement, a snapshot): marks change only at ticks, so the result does not depend on
        when between two ticks it runs."""
        if not self.margin_checks:
            self.dirty.clear()
            return
        while self.dirty:
            pending, self.dirty = self.dirty, {}  # a fresh dict: popping a big one from the front is O(n)
            for account in pending:
                self._reindex(self.accounts[account])

    def _reindex(self, acct: Account) -> None:
        idx = self.breach_index
        wanted = self._thresholds(acct)
        for symbol in acct.positions:
            for iso in (0, 1):
                entry = wanted.get((symbol, iso))
                if entry is None:
                    idx.discard(acct.id, symbol, iso)
                else:
                    idx.put(acct.id, symbol, iso, *entry)

    def _thresholds(self, acct: Account) -> dict[tuple[str, int], tuple[bool, int]]:
        """Where the account belongs in the breach index: (symbol, isolated) -> (is_long, threshold)."""
        out = {}
        cross: list[Position] = []
        for symbol, pos in acct.positions.items():
            if not pos.size or not self.markets[symbol].mark:
                continue
            if pos.isolated:
                scale = AUTO_ADD_SCALE_PPM if pos.auto_add else PPM
                lp = solve_price(self.instruments[symbol], pos.size, pos.cost, pos.isolated_wallet, scale)
                out[symbol, 1] = (pos.size > 0, _threshold(lp, pos.size > 0))
            else:
                cross.append(pos)
        if len(cross) == 1:
            pos = cross[0]
            lp = solve_price(self.instruments[pos.symbol], pos.size, pos.cost, acct.cross_wallet)
            out[pos.symbol, 0] = (pos.size > 0, _threshold(lp, pos.size > 0))
        elif cross:
            upnl, mm, _, n = self.cross_totals(acct)
            cushion = (acct.cross_wallet + upnl) * PPM - mm
            share = cushion // n
            for pos in cross:
                is_long = pos.size > 0
                if cushion <= 0:
                    threshold = ALWAYS if is_long else 0
                else:
                    own = self._upnl(pos) * PPM - self._mm_ppm(pos)
                    other = (share - own) // PPM
                    threshold = _threshold(solve_price(self.instruments[pos.symbol], pos.size, pos.cost, other), is_long)
                out[pos.symbol, 0] = (is_long, threshold)
        return out

    def check_breach_index(self) -> None:
        """After a flush, the index holds exactly the positions with a size and a mark. Isolated positions
        and single-symbol cross accounts sit at the threshold a fresh re-index gives. A cross account with
        several symbols was split by the marks of its last re-index, which other symbols' ticks have moved
        since: each of its entries must still fire no later than that position's own liquidation price
        with the other positions at their current marks."""
        self._flush_dirty()
        entries = self.breach_index.entries
        fresh = {(acct.id, s, iso): e for acct in self.accounts.values() for (s, iso), e in self._thresholds(acct).items()}
        assert entries.keys() == (fresh.keys() if self.margin_checks else set()), \
            "breach index holds other positions than a fresh re-index"
        for (account, symbol, iso), (is_long, threshold) in entries.items():
            acct = self.accounts[account]
            pos = acct.positions[symbol]
            assert is_long == (pos.size > 0), f"breach entry of {account} {symbol} on the wrong side"
            if iso or sum(1 for p in acct.positions.values() if p.size and not p.isolated) == 1:
                assert fresh[account, symbol, iso] == (is_long, threshold), \
                    f"breach threshold of {account} {symbol}: {threshold}, a fresh re-index gives {fresh[account, symbol, iso]}"
                continue
            other, mm_ppm = acct.cross_wallet, 0
            for p in acct.positions.values():
                if p is not pos and p.size and not p.isolated:
                    other += self._upnl(p)
                    mm_ppm += self._mm_ppm(p)
            own = _threshold(solve_price(self.instruments[symbol], pos.size, pos.cost, other - mm_ppm // PPM), is_long)
            assert (threshold >= own) if is_long else (threshold <= own), \
                f"breach threshold of {account} {symbol} ({threshold}) lies past its liquidation price ({own})"
        listed = {(s, lg, t, a, i) for lg, side in ((True, self.breach_index.longs), (False, self.breach_index.shorts))
                  for s, lst in side.items() for t, a, i in lst}
        assert listed == {(s, lg, t, a, i) for (a, s, i), (lg, t) in entries.items()}, "sorted thresholds out of sync"

    # -- the mark-price tick -------------------------------------------------------------------
    def _check_liquidations(self, symbol: str, events: list) -> None:
        """Liquidate every account or isolated position breached at the current mark, worst first."""
        if not self.margin_checks:
            return
        self._flush_dirty()
        crossed = self.breach_index.pop_crossed(symbol, self.markets[symbol].mark)
        if not crossed:
            return
        breached = []
        for account, iso in crossed:
            acct = self.accounts[account]
            if iso:
                pos = acct.positions[symbol]
                if pos.auto_add:
                    self._auto_add(acct, pos, events)
                hit, mb, mm = self.isolated_breached(pos)
            else:
                hit, mb, mm = self.cross_breached(acct)
            if hit:
                ratio = Fraction(mm, mb * PPM) if mb > 0 else Fraction(1 << 62)
                breached.append((-ratio, account, symbol if iso else ""))
            else:
                self.dirty[account] = None
        for _, account, bucket in sorted(breached):
            self._liquidate(self.accounts[account], bucket, events)
        self._flush_dirty()

    def _auto_add(self, acct: Account, pos: Position, events: list) -> None:
        """Top the isolated wallet up to the initial margin from the free cross balance."""
        mb = pos.isolated_wallet + self._upnl(pos)
        if mb * PPM * PPM > self._mm_ppm(pos) * AUTO_ADD_SCALE_PPM:
            return
        amount = min(self._im(pos) - mb, self.free_balance(acct))
        if amount > 0:
            acct.cross_wallet -= amount
            pos.isolated_wallet += amount
            events.append(IsolatedMarginChanged(acct.id, pos.symbol, amount, pos.isolated_wallet, "AUTO_ADD"))
        self.dirty[acct.id] = None

    def _bucket_breached(self, acct: Account, bucket: str) -> tuple[bool, int, int]:
        return self.isolated_breached(acct.positions[bucket]) if bucket else self.cross_breached(acct)

    def _liquidate(self, acct: Account, bucket: str, events: list) -> None:
        """Liquidate a breached cross account (bucket "") or isolated position (bucket = symbol)."""
        hit, mb, mm = self._bucket_breached(acct, bucket)
        if not hit:
            self.dirty[acct.id] = None
            return
        events.append(LiquidationTriggered(acct.id, bucket, "ISOLATED" if bucket else CROSS, mb, ceil_div(mm, PPM)))
        for order in [o for o in acct.orders.values()
                      if (o.symbol == bucket if bucket else not acct.positions[o.symbol].isolated)]:
            self._cancel_open_order(order, "LIQUIDATION", events)
        for _ in range(64):
            if not self._bucket_breached(acct, bucket)[0]:
                break
            pos = acct.positions[bucket] if bucket else self._worst_cross_position(acct)
            if pos is None or not pos.size:
                break
            self._liquidate_position(acct, pos, events)
        self._settle_empty_wallets(acct)
        self.dirty[acct.id] = None

    def _worst_cross_position(self, acct: Account) -> Position | None:
        """The cross position with the lowest UPNL - MM: the losing leg goes first, at a bankruptcy price
        the rest of the account gives it (a winning short behind a crashed long has none)."""
        best = None
        best_key = None
        for pos in acct.positions.values():
            if pos.size and not pos.isolated:
                key = self._upnl(pos) * PPM - self._mm_ppm(pos)
                if best_key is None or key < best_key:
                    best, best_key = pos, key
        return best

    def _liquidate_position(self, acct: Account, pos: Position, events: list) -> None:
        """One step: a partial liquidation down one bracket for a large position, else a full close."""
        inst = self.instruments[pos.symbol]
        k = inst.cash_per_tick_lot
        mark = self.markets[pos.symbol].mark
        notional = abs(pos.size) * mark * k
        bracket = inst.bracket_for(notional)
        if bracket.floor_cash > 0:
            qty = min(abs(pos.size), max(1, ceil_div(notional - bracket.floor_cash, mark * k)))
            if qty < abs(pos.size) and self._liquidation_order(acct, pos, qty, True, events):
                return
        self._liquidation_order(acct, pos, abs(pos.size), False, events)

    def _other_cash(self, acct: Account, pos: Position) -> int:
        """Cash backing this position besides itself: isolated wallet, or cross wallet + other UPNL."""
        if pos.isolated:
            return pos.isolated_wallet
        other = acct.cross_wallet
        for p in acct.positions.values():
            if p is not pos and p.size and not p.isolated:
                other += self._upnl(p)
        return other

    def _liquidation_order(self, acct: Account, pos: Position, qty: int, partial: bool, events: list) -> int:
        """Send an IOC at the bankruptcy price through the book; returns the qty filled in the book.

        Full close: the account is settled at the bankruptcy price, the fill's difference goes to the
        insurance fund, and what the book cannot take is deleveraged. Partial: settled at the fills,
        with the liquidation fee. The limit may go past the bankruptcy price (never beyond the market
        band) only as far as the insurance fund can pay for.
        """
        symbol = pos.symbol
        inst = self.instruments[symbol]
        k = inst.cash_per_tick_lot
        mark = self.markets[symbol].mark
        side = SELL if pos.size > 0 else BUY
        other = self._other_cash(acct, pos)
        bp = bankruptcy_price(pos.size, pos.cost, other, k)
        band = inst.market_band_ppm
        if bp is None:  # solvent at any price: close into the book within the band
            bp_ticks = ceil_div(mark * (PPM - band), PPM) if side == SELL else mark * (PPM + band) // PPM
            partial = True
        else:
            bp_ticks = -((-bp[0]) // bp[1]) if side == SELL else bp[0] // bp[1]
        reach = 0 if partial else self.insurance_fund // (qty * k)
        if side == SELL:
            limit = max(1, min(bp_ticks, max(bp_ticks - reach, ceil_div(mark * (PPM - band), PPM))))
        else:
            limit = max(bp_ticks, min(bp_ticks + reach, mark * (PPM + band) // PPM))
        value = 0 if partial else (pos.cost - other if side == SELL else other - pos.cost)
        ctx = self.liquidation = LiquidationContext(partial, value, qty)
        order = Order(self.next_order_id, acct.id, side, limit, qty, self.next_order_id, symbol, tif=IOC,
                      origin="liquidation")
        self.next_order_id += 1
        events.append(LiquidationOrderPlaced(acct.id, symbol, order.oid, side, qty, limit, bp_ticks, partial))
        self._execute(order, acct, pos, inst, self.books[symbol], limit, 0, events, fee_ppm=0)
        if not partial and order.qty:
            rest = order.qty - self._fund_takeover(acct, pos, order.qty, side, bp_ticks, ctx, events)
            if rest:
                self._deleverage(acct, pos, rest, side, bp_ticks, ctx, events)
        self.liquidation = None
        avg = round(Fraction(ctx.filled_value, ctx.filled * k)) if ctx.filled else 0
        events.append(PublicLiquidation(symbol, side, qty, bp_ticks, ctx.filled, avg,
                                        "ISOLATED" if pos.isolated else CROSS))
        self._after_trades(symbol, events)
        return ctx.filled

    def _liquidation_fill(self, taker: Order, acct: Account, pos: Position, qty: int, price: int, k: int,
                          events: list) -> None:
        """Settle one fill of a liquidation order (called from the common fill path)."""
        ctx = self.liquidation
        assert ctx is not None, "a liquidation fill outside a liquidation order"
        ctx.filled += qty
        ctx.filled_value += qty * price * k
        inst = self.instruments[pos.symbol]
        trade_value = qty * price * k
        liq_fee = ceil_div(trade_value * inst.liquidation_fee_ppm, PPM)
        if ctx.partial:
            ctx.take(qty)
            self._fill_position(acct, pos, taker.side, qty, price, k, 0, events, levy=liq_fee)
            return
        value = ctx.take(qty)
        self._fill_position(acct, pos, taker.side, qty, price, k, 0, events, close_value=value)
        gain = trade_value - value if taker.side == SELL else value - trade_value
        fee_part = max(0, min(gain, liq_fee))
        if fee_part:
            self._insurance(pos.symbol, fee_part, "LIQUIDATION_FEE", acct.id, events)
        if gain - fee_part:
            self._insurance(pos.symbol, gain - fee_part,
                            "LIQUIDATION_SURPLUS" if gain > 0 else "LIQUIDATION_DEFICIT", acct.id, events)

    def _insurance(self, symbol: str, delta: int, reason: str, account: int, events: list) -> None:
        self.insurance_fund += delta
        events.append(InsuranceFundChanged(symbol, delta, self.insurance_fund, reason, account))

    # -- the insurance fund's own positions ---------------------------------------------------
    def fund_equity(self, exclude: Position | None = None) -> int:
        """The fund's cash + the UPNL at mark of its positions (but `exclude`)."""
        return self.fund.cross_wallet + sum(self._upnl(p) for p in self.fund.positions.values()
                                            if p.size and p is not exclude)

    def _fund_takeover(self, acct: Account, pos: Position, qty: int, side: int, bp_ticks: int,
                       ctx: LiquidationContext, events: list) -> int:
        """Take what the book could not at the bankruptcy price onto the fund's books, if the fund can
        carry it: its equity afterwards must cover a move of one market band against all it holds.
        Returns the qty taken (all or nothing)."""
        symbol = pos.symbol
        inst = self.instruments[symbol]
        k = inst.cash_per_tick_lot
        fpos = self.fund.positions[symbol]
        mark = self.markets[symbol].mark
        size, cost = fpos.size - side * qty, fpos.cost - side * qty * bp_ticks * k
        equity = self.fund_equity(fpos) + unrealized_pnl(size, cost, mark, k)
        exposure = abs(size) * mark * k + sum(self._notional(p) for p in self.fund.positions.values()
                                              if p.size and p is not fpos)
        if equity * PPM < exposure * inst.market_band_ppm:
            return 0
        value = ctx.take(qty)
        self._fill_position(acct, pos, side, qty, bp_ticks, k, 0, events, close_value=value)
        self._fill_position(self.fund, fpos, -side, qty, bp_ticks, k, 0, events)
        trade_value = qty * bp_ticks * k
        rounding = trade_value - value if side == SELL else value - trade_value
        if rounding:
            self._insurance(symbol, rounding, "TAKEOVER_ROUNDING", acct.id, events)
        events.append(TakenOverByFund(acct.id, symbol, qty, bp_ticks))
        return qty

    def _fund_unwind(self, symbol: str, events: list) -> None:
        """On each mark tick, the fund offers a share (`fund_unwind_ppm`) of what it holds to the book within
        the market band; if its equity is gone, what it holds is deleveraged at its bankruptcy price."""
        inst = self.instruments[symbol]
        k = inst.cash_per_tick_lot
        fpos = self.fund.positions[symbol]
        qty = abs(fpos.size)
        side = SELL if fpos.size > 0 else BUY
        mark = self.markets[symbol].mark
        if self.fund_equity() <= 0:
            other = self.fund_equity(fpos)
            bp = bankruptcy_price(fpos.size, fpos.cost, other, k)
            bp_ticks = mark if bp is None else (-((-bp[0]) // bp[1]) if side == SELL else bp[0] // bp[1])
            value = fpos.cost - other if side == SELL else other - fpos.cost
            self._deleverage(self.fund, fpos, qty, side, bp_ticks, LiquidationContext(False, value, qty),
                             events)
            return
        band = inst.market_band_ppm
        limit = max(1, ceil_div(mark * (PPM - band), PPM)) if side == SELL else mark * (PPM + band) // PPM
        book = self.books[symbol]
        if not book.crosses(side, limit):
            return
        offer = min(qty, max(1, ceil_div(qty * inst.fund_unwind_ppm, PPM)))
        order = Order(self.next_order_id, self.fund.id, side, limit, offer, self.next_order_id, symbol, tif=IOC,
                      origin="fund")
        self.next_order_id += 1
        self._execute(order, self.fund, fpos, inst, book, limit, 0, events, fee_ppm=0)
        self._after_trades(symbol, events)

    # -- auto-deleveraging ---------------------------------------------------------------------
    def _deleverage(self, acct: Account, pos: Position, qty: int, side: int, bp_ticks: int,
                    ctx: LiquidationContext, events: list) -> None:
        """Close `qty` against opposite positions ranked by leverage-PnL at the bankruptcy price."""
        symbol = pos.symbol
        k = self.instruments[symbol].cash_per_tick_lot
        for cp in self.adl_ranking(symbol, side, bp_ticks, exclude=acct.id):  # shorts when selling
            if not qty:
                break
            cacct = self.accounts[cp.account]
            take = min(qty, abs(cp.size))
            self._cancel_orders_of(cacct, "ADL", events, symbol)
            value = ctx.take(take)
            self._fill_position(acct, pos, side, take, bp_ticks, k, 0, events, close_value=value)
            self._fill_position(cacct, cp, -side, take, bp_ticks, k, 0, events)
            trade_value = take * bp_ticks * k
            rounding = trade_value - value if side == SELL else value - trade_value
            if rounding:
                self._insurance(symbol, rounding, "ADL_ROUNDING", acct.id, events)
            events.append(Deleveraged(acct.id, symbol, take, bp_ticks, cp.account))
            events.append(Deleveraged(cp.account, symbol, take, bp_ticks, acct.id))
            qty -= take

    def adl_score(self, pos: Position, price: int) -> Fraction:
        """Binance leverage-PnL: max(0, UPNL)/max(1, wallet) x MM/(wallet + UPNL), at `price`."""
        inst = self.instruments[pos.symbol]
        k = inst.cash_per_tick_lot
        upnl = unrealized_pnl(pos.size, pos.cost, price, k)
        wallet = pos.isolated_wallet if pos.isolated else self.accounts[pos.account].cross_wallet
        if upnl <= 0 or wallet + upnl <= 0:
            return Fraction(0)
        mm = maint_margin_ppm(inst, abs(pos.size) * price * k)
        return Fraction(upnl, max(1, wallet)) * Fraction(mm, (wallet + upnl) * PPM)

    def adl_ranking(self, symbol: str, sign: int, price: int, exclude: int = -1) -> list[Position]:
        """Positions on the `sign` side (+1 long), first to be deleveraged first (ties: account id)."""
        candidates = [p for a, p in self.holders[symbol].items() if a != exclude and (p.size > 0) == (sign > 0)]
        return sorted(candidates, key=lambda p: (-self.adl_score(p, price), p.account))

    def adl_quantile(self, account: int, symbol: str) -> int:
        """0..4: the position's ADL rank among its side at the current mark (4 = first in line)."""
        pos = self.accounts[account].positions.get(symbol)
        if pos is None or not pos.size:
            return 0
        ranking = self.adl_ranking(symbol, 1 if pos.size > 0 else -1, self.markets[symbol].mark)
        rank = next(i for i, p in enumerate(ranking) if p.account == account)
        return min(4, 5 * (len(ranking) - 1 - rank) // len(ranking))

    def _settle_empty_wallets(self, acct: Account) -> None:
        """A wallet never stays negative: with no position left behind it, the fund pays it back to 0."""
        if acct.cross_wallet < 0 and not any(p.size and not p.isolated for p in acct.positions.values()):
            self._cover_bad_debt(acct, "", -acct.cross_wallet)
            acct.cross_wallet = 0
        for pos in acct.positions.values():
            if pos.isolated and not pos.size and pos.isolated_wallet:
                if pos.isolated_wallet < 0:
                    self._cover_bad_debt(acct, pos.symbol, -pos.isolated_wallet)
                else:
                    acct.cross_wallet += pos.isolated_wallet
                    self._events.append(IsolatedMarginChanged(acct.id, pos.symbol, -pos.isolated_wallet, 0, "RELEASE"))
                pos.isolated_wallet = 0
