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

Every venue's maintenance form in VENUES.md is linear in the notional within a tier, so `maintenance`
gives (rate, deduction) and one solver (`margin.solve_price`) inverts MM(P) for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .instruments import EIGHT_HOURS_NS, Bracket, Instrument
from .margin import Price, TierTerms, binance_terms, maint_margin_ppm, solve_price
from .money import PPM, ceil_div


class TierKey(Protocol):
    def tier(self, inst: Instrument, lots: int, notional_cash: int) -> Bracket:
        """The tier (leverage bracket) of a position of `lots` worth `notional_cash`."""
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

    def key(self, upnl_cash: int, wallet_cash: int, maint_ppm: int) -> tuple[int, int]:
        """A rank key, (numerator, denominator > 0) of the score: the higher the score, the earlier."""
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


class NotionalTiers:
    """Binance: the bracket of the notional (at the mark)."""

    def tier(self, inst: Instrument, lots: int, notional_cash: int) -> Bracket:
        return inst.bracket_for(notional_cash)


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

    def key(self, upnl_cash: int, wallet_cash: int, maint_ppm: int) -> tuple[int, int]:
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


BINANCE = Venue()
