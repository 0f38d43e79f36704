"""Venue rules: each rule in which venues differ is one small replaceable object, Binance's the default.

The components call these and nothing else for the rule concerned, so a venue profile is a `Venue`
with some of its pieces replaced (docs/architecture.md, "Venue seams"; ../shared/VENUES.md §0):

| piece | question | Binance (default) |
|---|---|---|
| `tiers` | which tier a position is in | the bracket of its notional at the mark |
| `maintenance` | MM within a tier, as N x rate - deduction | rate = MMR, deduction = cum (continuous) |
| `requirement_fee` | a fee rate counted into MM | none |
| `breach` | when a margin bucket is liquidated | margin balance <= MM |
| `steps` | how much of a breached position one liquidation order closes | down to the bracket below, else all |
| `penalty` | what the fund keeps of a liquidation fill | the liquidation fee, at most the surplus |
| `adl` | the price and the order of auto-deleveraging | the bankruptcy price; leverage x PnL |
| `funding` | the rate from the premium, the notional paid on | Binance's clamp around the interest; mark |
| `basis` | the notional an isolated position's MM is taken at | the mark |
| `close_fee` | a fixed fee to close counted into a cross position's MM | none |
| `execution` | how one liquidation step closes a breached position | `steps`, then an IOC at the bankruptcy price |

The profiles of other venues (`venues/`) replace pieces; the pieces' own choices are there.

Every venue's maintenance form in VENUES.md is linear in the notional within a tier, so `maintenance`
gives (rate, deduction) and one solver (`margin.solve_price`) inverts MM(P) for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .accounts import Account, Position
from .events import Event
from .instruments import EIGHT_HOURS_NS, Bracket, Instrument
from .margin import Price, TierTerms, binance_terms, maint_margin_ppm, solve_price
from .money import PPM, ceil_div


class TierKey(Protocol):
    def tier(self, inst: Instrument, lots: int, notional_cash: int) -> Bracket:
        """The tier (leverage bracket) of a position of `lots` worth `notional_cash`."""
        ...

    def cap_lots(self, inst: Instrument, index: int, mark: int) -> int:
        """The most lots a position at this mark may hold and stay within tier `index`."""
        ...


class MaintenanceForm(Protocol):
    def terms(self, bracket: Bracket) -> tuple[int, int]:
        """(rate ppm, deduction cash) of MM = notional x rate - deduction within the bracket."""
        ...


class RequirementFee(Protocol):
    def rate_ppm(self, inst: Instrument) -> int:
        """A fee rate (ppm of the notional) the maintenance requirement includes."""
        ...


class BreachTest(Protocol):
    def breached(self, margin_balance_cash: int, maint_ppm: int) -> bool:
        """Is a bucket with this margin balance and maintenance margin (x 10**6) to be liquidated?"""
        ...


class LiquidationSteps(Protocol):
    def partial_lots(self, tier: Bracket, lots: int, mark: int, k: int) -> int:
        """Lots a first, partial liquidation order closes, or 0 for closing the whole position at once."""
        ...


class Penalty(Protocol):
    def fee(self, inst: Instrument, trade_value_cash: int) -> int:
        """What the insurance fund takes from a liquidation fill of this value (at most its surplus)."""
        ...


class AdlRule(Protocol):
    def price(self, bankruptcy_ticks: int, mark: int) -> int:
        """The price at which deleveraged positions are closed."""
        ...

    def key(self, upnl_cash: int, wallet_cash: int, maint_ppm: int, pos: Position, notional_cash: int,
            seq: int) -> tuple[int, int]:
        """A rank key, (numerator, denominator > 0) of the score: the higher the score, the earlier. `seq`:
        the command's, for a venue that draws its order (deterministically) instead of ranking."""
        ...


class FundingRule(Protocol):
    def rate_e8(self, inst: Instrument, premium_e8: int) -> int:
        """The funding rate of an interval from the interval's average premium index."""
        ...

    def weight(self, count_before: int, n: int) -> int:
        """The total weight of n more premium samples after count_before of this interval."""
        ...

    def payment_price(self, mark: int, index: int) -> int:
        """The price at which a position's notional is valued for its funding payment."""
        ...


class MaintenanceBasis(Protocol):
    def entry_based(self, pos: Position) -> bool:
        """Is the position's MM taken at its entry notional (a fixed number) rather than at the mark?"""
        ...


class CloseFee(Protocol):
    def cash(self, inst: Instrument, pos: Position) -> int:
        """A fixed fee to close the position, counted into its maintenance margin (cash, rounded up)."""
        ...


class LiquidationOps(Protocol):
    """What a liquidation execution may do (the Liquidation component provides it)."""

    def ioc_step(self, acct: Account, pos: Position, events: list[Event]) -> None:
        """Binance's step: a partial IOC by the venue's `steps`, else a full close IOC at the bankruptcy price."""
        ...

    def bucket(self, acct: Account, pos: Position) -> tuple[int, int]:
        """(margin balance, maintenance margin x 10**6) of the bucket the position is margined in."""
        ...

    def position_mm_ppm(self, pos: Position) -> int: ...

    def mark(self, symbol: str) -> int: ...

    def k(self, pos: Position) -> int:
        """Cash per tick-lot of the position's instrument."""
        ...

    def cap_lots(self, pos: Position, index: int) -> int:
        """The most lots the position may hold at the mark and stay within tier `index`."""
        ...

    def now(self) -> int:
        """The current envelope's ts_ns."""
        ...

    def tier_of(self, pos: Position) -> tuple[int, Bracket]:
        """(index, bracket) of the position's tier at the mark."""
        ...

    def book_close(self, acct: Account, pos: Position, qty: int, limit: int, fok: bool, events: list[Event]) -> int:
        """A liquidation order of qty at `limit` (0: the bankruptcy price) into the book, IOC or FOK, settled
        at its fills with the venue's penalty levied; returns the lots filled."""
        ...

    def take_over(self, acct: Account, pos: Position, events: list[Event], fund: bool = True) -> None:
        """The whole position closed at its bankruptcy price: taken over by the insurance fund (`fund`, if it
        can carry it), else deleveraged."""
        ...

    def band_edge(self, pos: Position) -> int:
        """The furthest price a closing market order may reach (the market band around the mark)."""
        ...

    def cooldown(self, acct: Account, pos: Position) -> int:
        """ts_ns until which the position's book liquidation waits (0: none)."""
        ...

    def set_cooldown(self, acct: Account, pos: Position, until_ns: int) -> None: ...


class LiquidationExecution(Protocol):
    def step(self, ops: LiquidationOps, acct: Account, pos: Position, events: list[Event]) -> bool:
        """One liquidation step on a breached position; False when it waits (nothing more this tick)."""
        ...


class NotionalTiers:
    """Binance: the bracket of the notional (at the mark)."""

    def tier(self, inst: Instrument, lots: int, notional_cash: int) -> Bracket:
        return inst.bracket_for(notional_cash)

    def cap_lots(self, inst: Instrument, index: int, mark: int) -> int:
        return inst.brackets[index].cap_cash // (mark * inst.cash_per_tick_lot)


class ContinuousMaintenance:
    """Binance: notional x MMR - cum, with cum making MM continuous across brackets."""

    def terms(self, bracket: Bracket) -> tuple[int, int]:
        return bracket.mmr_ppm, bracket.cum_cash


class NoRequirementFee:
    """Binance counts no fee in the maintenance margin."""

    def rate_ppm(self, inst: Instrument) -> int:
        return 0


class MarginAtOrBelowMaintenance:
    """Binance: liquidated when margin balance <= maintenance margin."""

    def breached(self, margin_balance_cash: int, maint_ppm: int) -> bool:
        return margin_balance_cash * PPM <= maint_ppm


class BracketSteps:
    """Binance: a position above the first bracket is cut to the floor of its bracket first."""

    def partial_lots(self, tier: Bracket, lots: int, mark: int, k: int) -> int:
        if tier.floor_cash <= 0:
            return 0
        notional_cash = lots * mark * k
        qty = min(lots, max(1, ceil_div(notional_cash - tier.floor_cash, mark * k)))
        return qty if qty < lots else 0


class LiquidationFee:
    """Binance: the instrument's liquidation fee rate on the fill's value, rounded up."""

    def fee(self, inst: Instrument, trade_value_cash: int) -> int:
        return ceil_div(trade_value_cash * inst.liquidation_fee_ppm, PPM)


class LeveragePnl:
    """Binance: at the bankruptcy price, ranked by max(0, UPNL)/max(1, wallet) x MM/(wallet + UPNL)."""

    def price(self, bankruptcy_ticks: int, mark: int) -> int:
        return bankruptcy_ticks

    def key(self, upnl_cash: int, wallet_cash: int, maint_ppm: int, pos: Position, notional_cash: int,
            seq: int) -> tuple[int, int]:
        if upnl_cash <= 0 or wallet_cash + upnl_cash <= 0:
            return 0, 1
        return upnl_cash * maint_ppm, max(1, wallet_cash) * (wallet_cash + upnl_cash) * PPM


class ClampedPremium:
    """Binance: premium + clamp(interest - premium, +-clamp), scaled to the interval, capped; the premium
    samples of an interval weighted 1, 2, 3, ...; paid on the notional at the mark."""

    def rate_e8(self, inst: Instrument, premium_e8: int) -> int:
        clamp = inst.premium_clamp_e8
        rate8 = premium_e8 + max(-clamp, min(clamp, inst.interest_e8 - premium_e8))
        rate = rate8 * inst.funding_interval_ns // EIGHT_HOURS_NS
        return max(-inst.funding_cap_e8, min(inst.funding_cap_e8, rate))

    def weight(self, count_before: int, n: int) -> int:
        return n * count_before + n * (n + 1) // 2

    def payment_price(self, mark: int, index: int) -> int:
        return mark


class AtMark:
    """Binance: every position's MM at its notional at the mark."""

    def entry_based(self, pos: Position) -> bool:
        return False


class NoCloseFee:
    """Binance counts no fee to close in the maintenance margin."""

    def cash(self, inst: Instrument, pos: Position) -> int:
        return 0


class IocAtBankruptcy:
    """Binance: partial by the venue's `steps` for a large position, else a full close: an IOC at the
    bankruptcy price, what the book does not take to the fund, then ADL."""

    def step(self, ops: LiquidationOps, acct: Account, pos: Position, events: list[Event]) -> bool:
        ops.ioc_step(acct, pos, events)
        return True


@dataclass(frozen=True, slots=True)
class Venue:
    """The rules of one venue, one piece per concern (see the module's docstring)."""

    name: str = "binance"
    tiers: TierKey = field(default_factory=NotionalTiers)
    maintenance: MaintenanceForm = field(default_factory=ContinuousMaintenance)
    requirement_fee: RequirementFee = field(default_factory=NoRequirementFee)
    breach: BreachTest = field(default_factory=MarginAtOrBelowMaintenance)
    steps: LiquidationSteps = field(default_factory=BracketSteps)
    penalty: Penalty = field(default_factory=LiquidationFee)
    adl: AdlRule = field(default_factory=LeveragePnl)
    funding: FundingRule = field(default_factory=ClampedPremium)
    basis: MaintenanceBasis = field(default_factory=AtMark)
    close_fee: CloseFee = field(default_factory=NoCloseFee)
    execution: LiquidationExecution = field(default_factory=IocAtBankruptcy)
    # the three margin pieces as one function (`margin.binance_terms` itself when they are Binance's)
    terms: TierTerms = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        binance = (type(self.tiers) is NotionalTiers and type(self.maintenance) is ContinuousMaintenance
                   and type(self.requirement_fee) is NoRequirementFee)
        object.__setattr__(self, "terms", binance_terms if binance else self._terms)

    def _terms(self, inst: Instrument, lots: int, notional_cash: int) -> tuple[Bracket, int, int]:
        """(tier, rate ppm, deduction cash) of MM = notional x rate - deduction for this position."""
        tier = self.tiers.tier(inst, lots, notional_cash)
        rate, deduction = self.maintenance.terms(tier)
        return tier, rate + self.requirement_fee.rate_ppm(inst), deduction

    def maint_ppm(self, inst: Instrument, lots: int, notional_cash: int) -> int:
        """Maintenance margin x 10**6 (exact) of a position of `lots` worth `notional_cash`."""
        return maint_margin_ppm(inst, notional_cash, self.terms, lots)

    def liquidation_price(self, inst: Instrument, size: int, cost: int, other_cash: int,
                          mm_scale_ppm: int = PPM) -> Price | None:
        """Where other_cash + the position's value at P meets its MM at P x mm_scale (`margin.solve_price`)."""
        return solve_price(inst, size, cost, other_cash, mm_scale_ppm, self.terms)

    @property
    def plain_maintenance(self) -> bool:
        """MM is `maint_ppm` at the mark for every position (no entry basis, no fee to close): a fast path."""
        return type(self.basis) is AtMark and type(self.close_fee) is NoCloseFee

    def position_mm_ppm(self, inst: Instrument, pos: Position, mark_notional_cash: int) -> int:
        """The position's maintenance margin x 10**6: at the mark, or at entry where `basis` says so, plus
        a cross position's fee to close where `close_fee` counts one."""
        lots = abs(pos.size)
        if self.basis.entry_based(pos):
            return self.maint_ppm(inst, lots, abs(pos.cost))
        mm = self.maint_ppm(inst, lots, mark_notional_cash)
        return mm + self.close_fee.cash(inst, pos) * PPM if mark_notional_cash and not pos.isolated else mm

    def position_price(self, inst: Instrument, pos: Position, other_cash: int, mm_scale_ppm: int = PPM) -> Price | None:
        """The position's liquidation price with `other_cash` behind it: where other_cash + its value at P
        meets its MM (x mm_scale). An entry-based MM is a fixed number, so P = (cost + MM - other) / (size k)."""
        size, cost = pos.size, pos.cost
        if self.basis.entry_based(pos):
            mm = self.maint_ppm(inst, abs(size), abs(cost)) * mm_scale_ppm // PPM
            num, den = (cost - other_cash) * PPM + mm, size * inst.cash_per_tick_lot * PPM
            if den < 0:
                num, den = -num, -den
            return (num, den) if num > 0 else None
        if not pos.isolated:
            other_cash -= ceil_div(self.close_fee.cash(inst, pos) * mm_scale_ppm, PPM)  # up: against the account
        return solve_price(inst, size, cost, other_cash, mm_scale_ppm, self.terms)


BINANCE = Venue()
