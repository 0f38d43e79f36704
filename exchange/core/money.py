"""Fixed-point units of the core and the integer arithmetic on them.

Prices are integer ticks, sizes integer lots, cash integer atomic units of the quote currency
(1 unit = 10**-CASH_DECIMALS), rates parts per million (ppm) or, for funding, parts per 10**8 (e8).
Every division in the core goes through one of the helpers below so its rounding is explicit.
"""

from __future__ import annotations

from typing import Final

from decimal import Decimal

CASH_DECIMALS: Final = 6
CASH_SCALE: Final = 10**CASH_DECIMALS
PPM: Final = 1_000_000
E8: Final = 100_000_000


def ceil_div(a: int, b: int) -> int:
    """a / b rounded toward +infinity (b > 0)."""
    return -((-a) // b)


def round_half_up_div(a: int, b: int) -> int:
    """a / b rounded to the nearest integer, halves toward +infinity (b > 0)."""
    return (2 * a + b) // (2 * b)


def to_units(text: str | int | Decimal, unit: Decimal, what: str = "value") -> int:
    """Convert a decimal string to an integer count of `unit`; it must be an exact multiple."""
    value = Decimal(str(text))
    count = value / unit
    if count != count.to_integral_value():
        raise ValueError(f"{what} {text} is not a multiple of {unit}")
    return int(count)


def cash_from_str(text: str | int | Decimal) -> int:
    return to_units(text, Decimal(1).scaleb(-CASH_DECIMALS), "cash amount")


def ppm_from_str(text: str | int | Decimal) -> int:
    return to_units(text, Decimal("0.000001"), "rate")


def e8_from_str(text: str | int | Decimal) -> int:
    return to_units(text, Decimal("0.00000001"), "rate")


def format_units(value: int, decimals: int) -> str:
    """Render an integer count of 10**-decimals as a decimal string."""
    return str(Decimal(value).scaleb(-decimals)) if decimals else str(value)


def format_cash(value: int) -> str:
    return format_units(value, CASH_DECIMALS)


def round_half_even_div(a: int, b: int) -> int:
    """a / b rounded to the nearest integer, halves to the even one, as round() does (b > 0)."""
    q, r = divmod(a, b)
    if 2 * r > b or (2 * r == b and q & 1):
        q += 1
    return q


def rank_keys(ratios: list[tuple[int, int]]) -> list[int]:
    """Integers ordered exactly as the rationals num/den (den > 0) are: floor(num x 2**s / den), with s
    twice the bits of the largest denominator, so that distinct rationals (at least 1/(d1 x d2) apart)
    never share a key and equal ones always do."""
    if not ratios:
        return []
    s = 2 * max(d for _, d in ratios).bit_length()
    return [(n << s) // d for n, d in ratios]
