"""Margin arithmetic on integers: maintenance/initial margin, PnL, liquidation and bankruptcy prices,
price bands. The one home of each formula; Binance's forms are the defaults (`rules.py` plugs them in).

Units: size in lots (signed: + long, - short), prices in ticks, cash in atomic units, k = cash per
tick-lot. Rounding always goes against the account: margin requirements round up, PnL credits down.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from .commands import BUY
from .instruments import Bracket, Instrument
from .money import PPM, ceil_div

Price = tuple[int, int]  # an exact price in ticks as (numerator, denominator > 0)
TierTerms = Callable[[Instrument, int, int], tuple[Bracket, int, int]]  # (inst, lots, notional) -> (tier, rate
# ppm, deduction cash) of MM = notional x rate - deduction: a venue's tier key, maintenance form and fee


def notional(size: int, price: int, k: int) -> int:
    return (size if size >= 0 else -size) * price * k


def unrealized_pnl(size: int, cost: int, mark: int, k: int) -> int:
    """size*mark*k - cost: exact (cost is the signed cost basis in cash)."""
    return size * mark * k - cost


def binance_terms(inst: Instrument, lots: int, notional_cash: int) -> tuple[Bracket, int, int]:
    """Binance's tier and maintenance form: the bracket of the notional, MM = notional x MMR - cum."""
    b = inst.bracket_for(notional_cash)
    return b, b.mmr_ppm, b.cum_cash


def maint_margin_ppm(inst: Instrument, notional_cash: int, terms: TierTerms = binance_terms, lots: int = 0) -> int:
    """(notional x rate - deduction) x 10**6 of the position's tier: exact, for the liquidation test."""
    if not notional_cash:
        return 0
    _, rate, deduction = terms(inst, lots, notional_cash)
    return notional_cash * rate - deduction * PPM


def maint_margin(inst: Instrument, notional_cash: int, terms: TierTerms = binance_terms, lots: int = 0) -> int:
    """The maintenance margin rounded up (for display and ratios)."""
    return ceil_div(maint_margin_ppm(inst, notional_cash, terms, lots), PPM)


def initial_margin(notional_cash: int, leverage: int) -> int:
    """notional / leverage, rounded up."""
    return ceil_div(notional_cash, leverage)


def closing_cost(cost: int, size: int, closed: int) -> int:
    """Part of the signed cost basis removed when `closed` of |size| lots are closed (rounded up,
    which lowers the realized PnL of a long and of a short alike)."""
    return ceil_div(cost * closed, abs(size))


def solve_price(inst: Instrument, size: int, cost: int, other_cash: int, mm_scale_ppm: int = PPM,
                terms: TierTerms = binance_terms) -> Price | None:
    """The price P (ticks, as num/den with den > 0) at which other_cash + size*P*k - cost equals
    MM(|size|*P*k) x mm_scale, or None when P is not positive.

    With other_cash = WB - TMM1 + UPNL1 this is Binance's liquidation price. The tier's rate and
    deduction are those at P: start from the tier at entry and re-check until consistent (every
    venue's maintenance form is linear in the notional within a tier).
    """
    k = inst.cash_per_tick_lot
    q = abs(size)
    b, rate, deduction = terms(inst, q, abs(cost))
    result = None
    for _ in range(len(inst.brackets) + 1):
        mmr = rate * mm_scale_ppm // PPM
        cum = deduction * mm_scale_ppm // PPM
        num = (cost - cum - other_cash) * PPM  # other + size*P*k - cost = q*P*k*mmr/PPM - cum
        den = k * (size * PPM - q * mmr)
        if den < 0:
            num, den = -num, -den
        if num <= 0 or den == 0:
            return None
        result = (num, den)
        at, rate, deduction = terms(inst, q, q * k * num // den)
        if at is b:
            break
        b = at
    return result


def bankruptcy_price(size: int, cost: int, other_cash: int, k: int) -> Price | None:
    """The price (num/den ticks, den > 0) at which other_cash + size*P*k - cost = 0, or None if <= 0."""
    num, den = cost - other_cash, size * k
    if den < 0:
        num, den = -num, -den
    return (num, den) if num > 0 else None


def bankruptcy_ticks(price: Price, closing_side: int) -> int:
    """A bankruptcy price on the tick grid, on the account's side of it: a closing buy (a short) may pay
    at most floor(P), a closing sell (a long) must get at least ceil(P)."""
    num, den = price
    return num // den if closing_side == BUY else -((-num) // den)


def band_limit(ref: int, band_ppm: int, side: int) -> int:
    """The furthest price a `side` order may reach from the reference price `ref` (ticks): a buy up to
    ref x (1 + band) rounded down, a sell down to ref x (1 - band) rounded up (and at least 1 tick)."""
    if side == BUY:
        return ref * (PPM + band_ppm) // PPM
    return max(1, ceil_div(ref * (PPM - band_ppm), PPM))


def as_fraction(price: Price | None) -> Fraction | None:
    return None if price is None else Fraction(*price)
