"""Margin arithmetic on integers: maintenance/initial margin, PnL, liquidation and bankruptcy prices.

Units: size in lots (signed: + long, - short), prices in ticks, cash in atomic units, k = cash per
tick-lot. Rounding always goes against the account: margin requirements round up, PnL credits down.
"""

from __future__ import annotations

from fractions import Fraction

from .instruments import Instrument
from .money import PPM, ceil_div


def notional(size: int, price: int, k: int) -> int:
    return (size if size >= 0 else -size) * price * k


def unrealized_pnl(size: int, cost: int, mark: int, k: int) -> int:
    """size*mark*k - cost: exact (cost is the signed cost basis in cash)."""
    return size * mark * k - cost


def maint_margin_ppm(inst: Instrument, notional_cash: int) -> int:
    """(notional x MMR - cum) x 10**6 of the notional's bracket: exact, for the liquidation test."""
    if not notional_cash:
        return 0
    b = inst.bracket_for(notional_cash)
    return notional_cash * b.mmr_ppm - b.cum_cash * PPM


def maint_margin(inst: Instrument, notional_cash: int) -> int:
    """notional x MMR - cum of the notional's bracket, rounded up (for display and ratios)."""
    return ceil_div(maint_margin_ppm(inst, notional_cash), PPM)


def initial_margin(notional_cash: int, leverage: int) -> int:
    """notional / leverage, rounded up."""
    return ceil_div(notional_cash, leverage)


def closing_cost(cost: int, size: int, closed: int) -> int:
    """Part of the signed cost basis removed when `closed` of |size| lots are closed (rounded up,
    which lowers the realized PnL of a long and of a short alike)."""
    return ceil_div(cost * closed, abs(size))


def solve_price(inst: Instrument, size: int, cost: int, other_cash: int,
                mm_scale_ppm: int = PPM) -> tuple[int, int] | None:
    """The price P (ticks, as num/den with den > 0) at which other_cash + size*P*k - cost equals
    MM(|size|*P*k) x mm_scale, or None when P is not positive.

    With other_cash = WB - TMM1 + UPNL1 this is Binance's liquidation price. MMR and cum are those of
    the bracket of the notional at P: start from the bracket at entry and re-check until consistent.
    """
    k = inst.cash_per_tick_lot
    q = abs(size)
    b = inst.bracket_for(abs(cost))
    result = None
    for _ in range(len(inst.brackets) + 1):
        mmr = b.mmr_ppm * mm_scale_ppm // PPM
        cum = b.cum_cash * mm_scale_ppm // PPM
        num = (cost - cum - other_cash) * PPM  # other + size*P*k - cost = q*P*k*mmr/PPM - cum
        den = k * (size * PPM - q * mmr)
        if den < 0:
            num, den = -num, -den
        if num <= 0 or den == 0:
            return None
        result = (num, den)
        at = inst.bracket_for(q * k * num // den)
        if at is b:
            break
        b = at
    return result


def bankruptcy_price(size: int, cost: int, other_cash: int, k: int) -> tuple[int, int] | None:
    """The price (num/den ticks, den > 0) at which other_cash + size*P*k - cost = 0, or None if <= 0."""
    num, den = cost - other_cash, size * k
    if den < 0:
        num, den = -num, -den
    return (num, den) if num > 0 else None


def as_fraction(price: tuple[int, int] | None) -> Fraction | None:
    return None if price is None else Fraction(*price)
