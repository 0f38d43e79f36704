"""Instrument specifications: filters, fees, leverage brackets and funding parameters, all integers."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from .money import CASH_SCALE, PPM, cash_from_str, e8_from_str, format_cash, ppm_from_str, to_units

NS_PER_SECOND = 1_000_000_000
NS_PER_HOUR = 3600 * NS_PER_SECOND
EIGHT_HOURS_NS = 8 * NS_PER_HOUR  # the period funding rates are quoted for
MARK_METHODS = ("median", "index", "last")


@dataclass(frozen=True, slots=True)
class Bracket:
    """One leverage tier: applies to position notional in [floor_cash, cap_cash]."""

    floor_cash: int
    cap_cash: int
    max_leverage: int
    mmr_ppm: int
    cum_cash: int


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    tick_size: Decimal
    lot_step: Decimal
    cash_per_tick_lot: int  # cash units of one lot traded at one tick
    min_qty_lots: int
    max_qty_lots: int
    market_min_qty_lots: int
    market_max_qty_lots: int
    min_notional_cash: int
    min_price_ticks: int
    max_price_ticks: int
    price_band_ppm: int  # limit buy <= mark*(1+band), sell >= mark*(1-band)
    market_band_ppm: int  # market orders do not sweep beyond mark*(1 -/+ band)
    max_open_orders: int
    maker_fee_ppm: int
    taker_fee_ppm: int
    liquidation_fee_ppm: int
    brackets: tuple[Bracket, ...]
    funding_interval_ns: int = EIGHT_HOURS_NS
    funding_sample_ns: int = 5 * NS_PER_SECOND
    interest_e8: int = 10_000  # 0.01% per 8 hours
    premium_clamp_e8: int = 50_000  # +-0.05%
    funding_cap_e8: int = 300_000  # +-0.3% per interval
    mark_method: str = "median"
    mark_basis_window_s: int = 300  # the basis moving average spans this many one-second samples
    mark_clamp_ppm: int = 5_000  # a median mark stays within index x (1 -/+ this)
    impact_margin_cash: int = 200 * CASH_SCALE
    fund_unwind_ppm: int = 250_000  # share of a taken-over position the fund offers per mark tick
    bracket_floors: tuple[int, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bracket_floors", tuple(b.floor_cash for b in self.brackets))

    def bracket_for(self, notional_cash: int) -> Bracket:
        """The bracket whose range holds the notional (the lower one at a shared boundary)."""
        i = bisect_right(self.bracket_floors, notional_cash) - 1
        if i > 0 and notional_cash == self.brackets[i].floor_cash:
            i -= 1
        return self.brackets[max(i, 0)]

    @property
    def max_leverage(self) -> int:
        return self.brackets[0].max_leverage

    @property
    def impact_notional_cash(self) -> int:
        """Impact notional = 200 USDT / initial margin rate at max leverage."""
        return self.impact_margin_cash * self.max_leverage

    def price_to_ticks(self, text: str | Decimal) -> int:
        return to_units(text, self.tick_size, "price")

    def qty_to_lots(self, text: str | Decimal) -> int:
        return to_units(text, self.lot_step, "qty")

    def ticks_to_str(self, ticks: int) -> str:
        return str(ticks * self.tick_size)

    def lots_to_str(self, lots: int) -> str:
        return str(lots * self.lot_step)

    def with_changes(self, **changes: Any) -> Instrument:
        return replace(self, **changes)


def build_brackets(rows: list[dict[str, Any]]) -> tuple[Bracket, ...]:
    """Brackets from config rows (floor, cap, max_leverage, mmr); cum is derived so MM is continuous."""
    brackets: list[Bracket] = []
    cum = 0
    prev_mmr = 0
    for row in rows:
        floor = cash_from_str(row["floor"])
        cap = cash_from_str(row["cap"])
        if not brackets and floor != 0:
            raise ValueError("the first bracket must start at notional 0")
        if brackets and floor != brackets[-1].cap_cash:
            raise ValueError(f"bracket floor {row['floor']} is not the previous cap {brackets[-1].cap_cash // CASH_SCALE}")
        if cap <= floor or int(row["max_leverage"]) < 1:
            raise ValueError(f"bracket at floor {row['floor']}: cap {row['cap']} must exceed the floor and "
                             f"max_leverage {row['max_leverage']} must be >= 1")
        mmr = ppm_from_str(row["mmr"])
        cum += floor * (mmr - prev_mmr) // PPM  # exact for ppm rates on whole-unit floors
        if "cum" in row and cash_from_str(row["cum"]) != cum:
            raise ValueError(f"bracket at floor {row['floor']}: cum {row['cum']} does not match the derived "
                             f"{format_cash(cum)}")
        brackets.append(Bracket(floor, cap, int(row["max_leverage"]), mmr, cum))
        prev_mmr = mmr
    if not brackets:
        raise ValueError("at least one bracket is required")
    return tuple(brackets)


MAX_BRACKETS = 32


def brackets_from_rows(rows: object) -> tuple[Bracket, ...]:
    """Brackets from rows of [floor cash, cap cash, max leverage, MMR ppm] (SetBrackets), cum derived as
    `build_brackets` does; ValueError says what is wrong."""
    if not isinstance(rows, (list, tuple)) or not 0 < len(rows) <= MAX_BRACKETS:
        raise ValueError(f"brackets must be a list of 1 to {MAX_BRACKETS} rows")
    out: list[Bracket] = []
    cum = prev_mmr = 0
    for row in rows:
        if not isinstance(row, (list, tuple)) or len(row) != 4 or any(type(v) is not int for v in row):
            raise ValueError(f"bracket row {row!r:.80} is not [floor, cap, max_leverage, mmr_ppm] of ints")
        floor, cap, lev, mmr = row
        if floor != (out[-1].cap_cash if out else 0):
            raise ValueError(f"bracket floor {floor} must be {out[-1].cap_cash if out else 0} (the previous cap)")
        if not floor < cap <= 10**18 or not 1 <= lev <= 1000 or not 0 <= mmr <= PPM:
            raise ValueError(f"bracket at floor {floor}: cap must exceed it (at most 1e18), max_leverage be in "
                             f"[1, 1000] and mmr_ppm in [0, {PPM}]")
        cum += floor * (mmr - prev_mmr) // PPM  # as build_brackets (toward -infinity)
        out.append(Bracket(floor, cap, lev, mmr, cum))
        prev_mmr = mmr
    return tuple(out)


def instrument_from_config(symbol: str, cfg: dict[str, Any]) -> Instrument:
    """Build an Instrument from a TOML table of decimal strings; ValueError names the symbol and the fault."""
    try:
        inst = _instrument(symbol, cfg)
    except KeyError as e:
        raise ValueError(f"{symbol}: missing {e.args[0]!r}") from None
    except (ValueError, ArithmeticError) as e:
        raise ValueError(f"{symbol}: {e}") from None
    if not 0 < inst.min_qty_lots <= inst.max_qty_lots or not 0 < inst.market_min_qty_lots <= inst.market_max_qty_lots:
        raise ValueError(f"{symbol}: min_qty must be at least one lot step and no more than max_qty "
                         f"(market_min_qty, market_max_qty likewise)")
    if inst.min_price_ticks > inst.max_price_ticks:
        raise ValueError(f"{symbol}: min_price {inst.min_price_ticks} ticks is above max_price {inst.max_price_ticks}")
    for name in PARAM_BOUNDS:
        problem = param_problem(name, getattr(inst, name))
        if problem:
            raise ValueError(f"{symbol}: {problem}")
    if inst.funding_interval_ns <= 0 or inst.funding_sample_ns <= 0 or inst.mark_basis_window_s <= 0:
        raise ValueError(f"{symbol}: funding_interval_hours, funding_sample_seconds and mark_basis_window_seconds "
                         f"must be positive")
    return inst


# Bounds of the parameters an admin may change at run time (SetInstrumentParam) and the config sets:
# a band of 100% or more would leave a sell no floor, a fee or share above 100% makes no sense.
PARAM_BOUNDS: dict[str, tuple[int, int]] = {
    "min_notional_cash": (0, 10**18), "price_band_ppm": (0, PPM - 1), "market_band_ppm": (0, PPM - 1),
    "max_open_orders": (0, 10**6), "maker_fee_ppm": (0, PPM), "taker_fee_ppm": (0, PPM),
    "liquidation_fee_ppm": (0, PPM), "funding_cap_e8": (0, 10**8), "max_qty_lots": (1, 10**18),
    "market_max_qty_lots": (1, 10**18), "mark_clamp_ppm": (0, PPM - 1), "fund_unwind_ppm": (1, PPM),
}


def param_problem(name: str, value: object) -> str | None:
    """Why `value` is not a valid setting of the instrument parameter `name`, or None."""
    bounds = PARAM_BOUNDS.get(name)
    if bounds is None:
        return f"{name!r} is not a settable parameter: {sorted(PARAM_BOUNDS)}"
    lo, hi = bounds
    if type(value) is not int or not lo <= value <= hi:
        return f"{name} must be an int in [{lo}, {hi}], not {value!r}"
    return None


def _instrument(symbol: str, cfg: dict[str, Any]) -> Instrument:
    tick = Decimal(cfg["tick_size"])
    lot = Decimal(cfg["lot_step"])
    k = tick * lot * CASH_SCALE
    if k != k.to_integral_value() or k <= 0:
        raise ValueError("tick_size x lot_step must be a whole number of cash units")

    def lots(key: str, default: str | None = None) -> int:
        value = cfg.get(key, default)
        if value is None:
            raise ValueError(f"missing {key!r}")
        return to_units(value, lot, key)

    def ticks(key: str, default: str) -> int:
        return to_units(cfg.get(key, default), tick, key)

    return Instrument(
        symbol=symbol,
        tick_size=tick,
        lot_step=lot,
        cash_per_tick_lot=int(k),
        min_qty_lots=lots("min_qty"),
        max_qty_lots=lots("max_qty"),
        market_min_qty_lots=lots("market_min_qty", cfg["min_qty"]),
        market_max_qty_lots=lots("market_max_qty", cfg["max_qty"]),
        min_notional_cash=cash_from_str(cfg.get("min_notional", "0")),
        min_price_ticks=max(1, ticks("min_price", str(tick))),
        max_price_ticks=ticks("max_price", "10000000"),
        price_band_ppm=ppm_from_str(cfg.get("price_band", "0.05")),
        market_band_ppm=ppm_from_str(cfg.get("market_band", "0.05")),
        max_open_orders=int(cfg.get("max_open_orders", 200)),
        maker_fee_ppm=ppm_from_str(cfg.get("maker_fee", "0.0002")),
        taker_fee_ppm=ppm_from_str(cfg.get("taker_fee", "0.0005")),
        liquidation_fee_ppm=ppm_from_str(cfg.get("liquidation_fee", "0.0125")),
        brackets=build_brackets(cfg["brackets"]),
        funding_interval_ns=int(Decimal(cfg.get("funding_interval_hours", "8")) * NS_PER_HOUR),
        funding_sample_ns=int(Decimal(cfg.get("funding_sample_seconds", "5")) * NS_PER_SECOND),
        interest_e8=e8_from_str(cfg.get("interest_rate", "0.0001")),
        premium_clamp_e8=e8_from_str(cfg.get("premium_clamp", "0.0005")),
        funding_cap_e8=e8_from_str(cfg.get("funding_cap", "0.003")),
        mark_method=_mark_method(cfg.get("mark_method", "median")),
        mark_basis_window_s=int(cfg.get("mark_basis_window_seconds", 300)),
        mark_clamp_ppm=ppm_from_str(cfg.get("mark_clamp", "0.005")),
        fund_unwind_ppm=ppm_from_str(cfg.get("fund_unwind_share", "0.25")),
    )


def _mark_method(name: str) -> str:
    if name not in MARK_METHODS:
        raise ValueError(f"mark_method {name!r} is not one of {MARK_METHODS}")
    return name
