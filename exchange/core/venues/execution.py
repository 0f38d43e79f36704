"""How one liquidation step closes a breached position, per venue (`rules.LiquidationExecution`;
Binance's, `rules.IocAtBankruptcy`, is the default). Each uses only `rules.LiquidationOps`.

A step returns False when the venue waits (a cooldown, one order per block): the rest waits for the
next mark tick, where the position, still breached, comes out of the breach index again.
"""

from __future__ import annotations

from ..accounts import Account, Position
from ..events import Event
from ..money import PPM, ceil_div
from ..rules import LiquidationOps

NS_PER_SECOND = 1_000_000_000


class TierCutThenTakeover:
    """Bybit (`drop` 1) and OKX (`drop` 2): above the lowest tier, a fill-or-kill at the bankruptcy price
    cuts the position to the cap of the tier `drop` below; in the lowest tier, or when the FOK cannot
    fill, the whole position is taken over by the insurance fund at the bankruptcy price (what margin is
    left above it is the fund's), deleveraged if the fund cannot carry it."""

    def __init__(self, drop: int) -> None:
        self.drop = drop

    def step(self, ops: LiquidationOps, acct: Account, pos: Position, events: list[Event]) -> bool:
        index, _ = ops.tier_of(pos)
        lots = abs(pos.size)
        if index > 0:
            keep = ops.cap_lots(pos, max(0, index - self.drop))
            if 0 < keep < lots and ops.book_close(acct, pos, lots - keep, 0, True, events):
                return True
        ops.take_over(acct, pos, events)
        return True


class BookSlices:
    """Hyperliquid: market orders into the book (within the market band, settled at their fills, no fee;
    what the trader has left when MM is met again stays hers). A position worth more than `slice_above`
    is sent `slice_ppm` at a time, then waits `cooldown_s`, after which the whole remainder goes. Below
    `backstop_ppm` of MM (2/3) the position and its margin go to the liquidator vault (the insurance
    fund here) at the bankruptcy price."""

    def __init__(self, slice_ppm: int, slice_above_cash: int, cooldown_s: int, backstop_ppm: int) -> None:
        self.slice_ppm = slice_ppm
        self.slice_above_cash = slice_above_cash
        self.cooldown_ns = cooldown_s * NS_PER_SECOND
        self.backstop_ppm = backstop_ppm

    def step(self, ops: LiquidationOps, acct: Account, pos: Position, events: list[Event]) -> bool:
        mb, mm = ops.bucket(acct, pos)
        if mb * PPM * PPM < mm * self.backstop_ppm:  # equity < 2/3 MM: the vault takes it over
            ops.take_over(acct, pos, events)
            return True
        until, now = ops.cooldown(acct, pos), ops.now()
        if until > now:
            return False
        lots = abs(pos.size)
        qty = lots
        if until:  # the cooldown after a slice is over: the whole remainder
            ops.set_cooldown(acct, pos, 0)
        elif lots * ops.mark(pos.symbol) * ops.k(pos) > self.slice_above_cash:
            qty = min(lots, max(1, ceil_div(lots * self.slice_ppm, PPM)))
            ops.set_cooldown(acct, pos, now + self.cooldown_ns)
        return ops.book_close(acct, pos, qty, ops.band_edge(pos), False, events) > 0


class FillablePerBlock:
    """dYdX v4: one IOC per position and block (a mark tick here) at the fillable price, for at most
    `share_ppm` (10%) of the position but at least `min_notional` (1,000 USDC) and at most `block_notional`
    (100,000 USDC) of notional, the whole position when smaller. Fillable price (x/clob/keeper):
    ABR = clamp(1 - TNC/TMMR, 0, 1), price = oracle -/+ ABR x SMMR x PMMR / Q (long/short): the oracle at
    the trigger, toward the bankruptcy price as TNC falls. Once TNC <= 0 the position is deleveraged at
    its bankruptcy price (no fund takeover). Fills pay the capped fee (the venue's penalty)."""

    def __init__(self, share_ppm: int, min_notional_cash: int, block_notional_cash: int, smmr_ppm: int) -> None:
        self.share_ppm = share_ppm
        self.min_notional_cash = min_notional_cash
        self.block_notional_cash = block_notional_cash
        self.smmr_ppm = smmr_ppm

    def fillable_ticks(self, tnc: int, tmmr_ppm: int, pmmr_ppm: int, lots: int, long: bool, mark: int, k: int) -> int:
        """The fillable price on the tick grid, rounded toward the mark (a sell's up, a buy's down)."""
        abr_num = min(tmmr_ppm, max(0, tmmr_ppm - tnc * PPM))  # ABR = abr_num / tmmr_ppm
        num = abr_num * self.smmr_ppm * pmmr_ppm  # offset (ticks) = num / den
        den = tmmr_ppm * PPM * PPM * lots * k
        return mark - num // den if long else mark + num // den

    def step(self, ops: LiquidationOps, acct: Account, pos: Position, events: list[Event]) -> bool:
        tnc, tmmr = ops.bucket(acct, pos)
        if tnc <= 0:
            ops.take_over(acct, pos, events, fund=False)
            return True
        lots = abs(pos.size)
        mark = ops.mark(pos.symbol)
        per_lot = mark * ops.k(pos)
        qty = max(ceil_div(lots * self.share_ppm, PPM), ceil_div(self.min_notional_cash, per_lot))
        qty = min(lots, qty, max(1, self.block_notional_cash // per_lot))
        limit = self.fillable_ticks(tnc, tmmr, ops.position_mm_ppm(pos), lots, pos.size > 0, mark, ops.k(pos))
        ops.book_close(acct, pos, qty, max(1, limit), False, events)
        return False
