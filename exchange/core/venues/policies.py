"""The choices of the venue rules beyond Binance's (`rules.py` has the protocols and Binance's defaults),
one small class per choice (../shared/VENUES.md §0 and §6; docs/venues.md names each switch).

Every division states its rounding; a requirement rounds up, a credit down.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from typing import Protocol

from ..accounts import Position
from ..instruments import EIGHT_HOURS_NS, Bracket, Instrument
from ..money import PPM, ceil_div


# -- tier key ----------------------------------------------------------------------------------------
class ContractTiers:
    """OKX: the tier of the number of contracts held (lots), not of the notional: it does not move with
    the price. `floors`: per symbol, the lot floor of each bracket (the first 0); a symbol without one
    falls back to the notional's bracket."""

    def __init__(self, floors: Mapping[str, tuple[int, ...]]) -> None:
        self.floors = dict(floors)

    def _index(self, inst: Instrument, lots: int) -> int:
        floors = self.floors[inst.symbol]
        i = bisect_right(floors, lots) - 1
        if i > 0 and lots == floors[i]:  # a shared boundary belongs to the lower tier
            i -= 1
        return max(i, 0)

    def tier(self, inst: Instrument, lots: int, notional_cash: int) -> Bracket:
        if inst.symbol not in self.floors:
            return inst.bracket_for(notional_cash)
        return inst.brackets[min(self._index(inst, lots), len(inst.brackets) - 1)]  # (SetBrackets may drop tiers)

    def cap_lots(self, inst: Instrument, index: int, mark: int) -> int:
        floors = self.floors.get(inst.symbol)
        if floors is None:
            return inst.brackets[index].cap_cash // (mark * inst.cash_per_tick_lot)
        return floors[index + 1] if index + 1 < len(floors) else 1 << 62


# -- maintenance form, fee in the requirement, basis, fee to close ------------------------------------
class WholePosition:
    """OKX: MM = notional x the tier's MMR for the whole position, no deduction (it jumps at tier bounds)."""

    def terms(self, bracket: Bracket) -> tuple[int, int]:
        return bracket.mmr_ppm, 0


class TakerFeeInRequirement:
    """OKX: the liquidation fee (the taker rate on the position value) is part of the requirement."""

    def rate_ppm(self, inst: Instrument) -> int:
        return inst.taker_fee_ppm


class EntryWhenIsolated:
    """Bybit (classic isolated): the MM of an isolated position is taken at its entry value, so its
    liquidation price is a stored number the mark is compared with; cross positions are margined at
    the mark."""

    def entry_based(self, pos: Position) -> bool:
        return pos.isolated


class EstimatedFeeToClose:
    """Bybit UTA: a cross position's MM includes the taker fee of closing it at its bankruptcy price,
    Q x EP x (1 -/+ 1/leverage) x taker (long/short), rounded up. (An isolated position's IM and MM would
    both include it, where it cancels out of the liquidation price; its box holds neither here.)"""

    def cash(self, inst: Instrument, pos: Position) -> int:
        lev = pos.leverage
        side = 1 if pos.size > 0 else -1
        return ceil_div(abs(pos.cost) * (lev - side) * inst.taker_fee_ppm, lev * PPM)


# -- trigger -----------------------------------------------------------------------------------------
class BelowMaintenance:
    """Hyperliquid (equity < MM) and dYdX (MMR > NC): liquidated only strictly below the requirement."""

    def breached(self, margin_balance_cash: int, maint_ppm: int) -> bool:
        return margin_balance_cash * PPM < maint_ppm


# -- penalty -----------------------------------------------------------------------------------------
class NoPenalty:
    """Bybit (the margin left above the bankruptcy price goes to the fund through the takeover) and
    Hyperliquid (no clearance fee): no fee on a liquidation fill."""

    def fee(self, inst: Instrument, trade_value_cash: int) -> int:
        return 0


# -- ADL price and ranking ---------------------------------------------------------------------------
class AdlRanking(Protocol):
    def key(self, upnl_cash: int, wallet_cash: int, maint_ppm: int, pos: Position, notional_cash: int,
            seq: int) -> tuple[int, int]: ...


class AdlAt:
    """A venue's ADL: its ranking, closing at the bankruptcy price or (`at_mark`: OKX; Hyperliquid, whose
    previous mark is approximated by the mark of the tick) at the mark."""

    def __init__(self, ranking: AdlRanking, at_mark: bool) -> None:
        self.ranking = ranking
        self.at_mark = at_mark

    def price(self, bankruptcy_ticks: int, mark: int) -> int:
        return mark if self.at_mark else bankruptcy_ticks

    def key(self, upnl_cash: int, wallet_cash: int, maint_ppm: int, pos: Position, notional_cash: int,
            seq: int) -> tuple[int, int]:
        return self.ranking.key(upnl_cash, wallet_cash, maint_ppm, pos, notional_cash, seq)


def _profit_and_equity(upnl_cash: int, wallet_cash: int) -> bool:
    return upnl_cash > 0 and wallet_cash + upnl_cash > 0


class ProfitTimesLeverage:
    """Bybit and OKX: "highest profit and effective leverage" first: PnL% x effective leverage =
    UPNL / max(1, wallet) x notional / (wallet + UPNL) (the exact current formulas were not published)."""

    def key(self, upnl_cash: int, wallet_cash: int, maint_ppm: int, pos: Position, notional_cash: int,
            seq: int) -> tuple[int, int]:
        if not _profit_and_equity(upnl_cash, wallet_cash):
            return 0, 1
        return upnl_cash * notional_cash, max(1, wallet_cash) * (wallet_cash + upnl_cash)


class HyperliquidIndex:
    """Hyperliquid: the profitable opposite side ranked by (mark / entry) x (notional / account value)."""

    def key(self, upnl_cash: int, wallet_cash: int, maint_ppm: int, pos: Position, notional_cash: int,
            seq: int) -> tuple[int, int]:
        if not _profit_and_equity(upnl_cash, wallet_cash) or not pos.cost:
            return 0, 1
        return notional_cash * notional_cash, abs(pos.cost) * (wallet_cash + upnl_cash)


class Unranked:
    """dYdX: no ranking; the venue iterates the opposite side from a pseudo-random offset. Here: a fixed
    mix of the account id and the command's seq (deterministic, different on every command)."""

    def key(self, upnl_cash: int, wallet_cash: int, maint_ppm: int, pos: Position, notional_cash: int,
            seq: int) -> tuple[int, int]:
        return ((pos.account + 1) * 2_654_435_761 + seq * 40_503) % 4_294_967_291, 1


# -- funding -----------------------------------------------------------------------------------------
class VenueFunding:
    """Funding of a venue: the rate from the interval's average premium P, with the interest I either
    clamped around (Binance's form, `interest_clamp`: P + clamp(I - P, +-clamp)) or added (P + I; OKX has
    I = 0), scaled from 8 h to the interval, capped; the premium samples weighted 1, 2, 3, ... toward
    settlement (`linear`) or equally; paid on the notional at the mark or at the index (`at_index`,
    the oracle of Hyperliquid and dYdX). Rates round toward zero (floor division of a signed value is
    toward -infinity; the cap bounds both sides)."""

    def __init__(self, interest_clamp: bool = True, linear: bool = True, at_index: bool = False) -> None:
        self.interest_clamp = interest_clamp
        self.linear = linear
        self.at_index = at_index

    def rate_e8(self, inst: Instrument, premium_e8: int) -> int:
        if self.interest_clamp:
            clamp = inst.premium_clamp_e8
            rate8 = premium_e8 + max(-clamp, min(clamp, inst.interest_e8 - premium_e8))
        else:
            rate8 = premium_e8 + inst.interest_e8
        rate = rate8 * inst.funding_interval_ns // EIGHT_HOURS_NS
        return max(-inst.funding_cap_e8, min(inst.funding_cap_e8, rate))

    def weight(self, count_before: int, n: int) -> int:
        return n * count_before + n * (n + 1) // 2 if self.linear else n

    def payment_price(self, mark: int, index: int) -> int:
        return index if self.at_index else mark
