"""A venue profile's `[venue]` table (decimal strings and switch names, configs/venues/*.toml) -> a `Venue`.

Each switch names one implementation (`SWITCHES`: switch -> choice -> what it builds); the parameters of
the liquidation executions are decimal strings like the rest of the config. Unknown switches, choices
and parameters are refused with the list of the known ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from ..instruments import Instrument
from ..money import cash_from_str, ppm_from_str, to_units
from ..rules import (
    AdlRule, AtMark, BracketSteps, BreachTest, ClampedPremium, CloseFee, ContinuousMaintenance, FundingRule,
    IocAtBankruptcy, LeveragePnl, LiquidationExecution, LiquidationFee, MaintenanceBasis, MaintenanceForm,
    MarginAtOrBelowMaintenance, NoCloseFee, NoRequirementFee, NotionalTiers, Penalty, RequirementFee, TierKey, Venue,
)
from .execution import BookSlices, FillablePerBlock, TierCutThenTakeover
from .policies import (
    AdlAt, AdlRanking, BelowMaintenance, ContractTiers, EntryWhenIsolated, EstimatedFeeToClose, HyperliquidIndex, NoPenalty,
    ProfitTimesLeverage, TakerFeeInRequirement, Unranked, VenueFunding, WholePosition,
)

Params = Mapping[str, Any]
Floors = Mapping[str, tuple[int, ...]]


def _int(p: Params, key: str, default: int) -> int:
    value = p.get(key, default)
    if type(value) is not int or value < 0:
        raise ValueError(f"venue {key} must be an int >= 0, not {value!r}")
    return value


def _tier_cut(p: Params, _: Floors) -> TierCutThenTakeover:
    return TierCutThenTakeover(_int(p, "tier_drop", 1))


def _book_slices(p: Params, _: Floors) -> BookSlices:
    return BookSlices(ppm_from_str(p.get("slice_share", "0.2")), cash_from_str(p.get("slice_above", "100000")),
                      _int(p, "cooldown_s", 30), ppm_from_str(p.get("backstop_fraction", "0.666667")))


def _per_block(p: Params, _: Floors) -> FillablePerBlock:
    return FillablePerBlock(ppm_from_str(p.get("block_share", "0.1")), cash_from_str(p.get("block_min_notional", "1000")),
                            cash_from_str(p.get("block_max_notional", "100000")), ppm_from_str(p.get("fillable_smmr", "1.5")))


T = TypeVar("T")
Choices = dict[str, Callable[[Params, Floors], T]]


def _fixed(obj: T) -> Callable[[Params, Floors], T]:
    return lambda _p, _f: obj


# each switch: choice -> builder(params, contract floors); the first choice is Binance's
TIER_KEY: Choices[TierKey] = {"notional": _fixed(NotionalTiers()), "contracts": lambda _p, floors: ContractTiers(floors)}
MAINTENANCE: Choices[MaintenanceForm] = {"deduction": _fixed(ContinuousMaintenance()), "whole_position": _fixed(WholePosition())}
REQUIREMENT_FEE: Choices[RequirementFee] = {"none": _fixed(NoRequirementFee()), "taker": _fixed(TakerFeeInRequirement())}
BASIS: Choices[MaintenanceBasis] = {"mark": _fixed(AtMark()), "entry_isolated": _fixed(EntryWhenIsolated())}
CLOSE_FEE: Choices[CloseFee] = {"none": _fixed(NoCloseFee()), "estimated_taker": _fixed(EstimatedFeeToClose())}
TRIGGER: Choices[BreachTest] = {"at_or_below": _fixed(MarginAtOrBelowMaintenance()), "below": _fixed(BelowMaintenance())}
LIQUIDATION: Choices[LiquidationExecution] = {
    "ioc_at_bankruptcy": _fixed(IocAtBankruptcy()), "tier_cut_then_takeover": _tier_cut, "book_slices": _book_slices,
    "fillable_per_block": _per_block}
PENALTY: Choices[Penalty] = {"liquidation_fee": _fixed(LiquidationFee()), "none": _fixed(NoPenalty())}
ADL_RANK: Choices[AdlRanking] = {"leverage_pnl": _fixed(LeveragePnl()), "profit_leverage": _fixed(ProfitTimesLeverage()),
                                 "hyperliquid": _fixed(HyperliquidIndex()), "unranked": _fixed(Unranked())}
FLAGS = {  # the two-way switches: (Binance's choice, the other)
    "adl_price": ("bankruptcy", "mark"), "funding_interest": ("clamped", "added"),
         "funding_weights": ("linear", "equal"), "funding_price": ("mark", "index")}
SWITCHES: dict[str, list[str]] = {
    "tier_key": list(TIER_KEY), "maintenance": list(MAINTENANCE), "requirement_fee": list(REQUIREMENT_FEE),
    "maintenance_basis": list(BASIS), "close_fee": list(CLOSE_FEE), "trigger": list(TRIGGER),
    "liquidation": list(LIQUIDATION), "penalty": list(PENALTY), "adl_rank": list(ADL_RANK),
    **{k: list(v) for k, v in FLAGS.items()}}
PARAMS = ("name", "description", "tier_drop", "slice_share", "slice_above", "cooldown_s", "backstop_fraction",
          "block_share", "block_min_notional", "block_max_notional", "fillable_smmr")


def contract_floors(instruments: tuple[Instrument, ...], tables: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Per symbol, the lot floors of its brackets from the rows' `floor_qty` (base units), when every row has one."""
    out = {}
    for inst in instruments:
        rows = tables.get(inst.symbol, {}).get("brackets", [])
        if rows and all("floor_qty" in r for r in rows):
            floors = tuple(to_units(Decimal(str(r["floor_qty"])), inst.lot_step, "floor_qty") for r in rows)
            if floors[0] != 0 or any(b <= a for a, b in zip(floors, floors[1:])):
                raise ValueError(f"{inst.symbol}: floor_qty must start at 0 and rise")
            out[inst.symbol] = floors
    return out


def build_venue(table: Mapping[str, Any], instruments: tuple[Instrument, ...] = (),
                instrument_tables: Mapping[str, Any] | None = None) -> Venue:
    """The Venue a `[venue]` table describes (a missing switch: Binance's choice)."""
    unknown = set(table) - set(SWITCHES) - set(PARAMS)
    if unknown:
        raise ValueError(f"unknown venue keys {sorted(unknown)}: switches {sorted(SWITCHES)}, parameters {sorted(PARAMS)}")
    for switch, names in SWITCHES.items():
        if table.get(switch, names[0]) not in names:
            raise ValueError(f"venue {switch} = {table[switch]!r} is not one of {names}")
    floors = contract_floors(instruments, instrument_tables or {})
    if table.get("tier_key") == "contracts" and not floors:
        raise ValueError('tier_key = "contracts" needs floor_qty in every bracket row of an instrument')

    def pick(switch: str, choices: Choices[T]) -> T:
        return choices[table.get(switch, next(iter(choices)))](table, floors)

    def other(switch: str) -> bool:
        return bool(table.get(switch, FLAGS[switch][0]) == FLAGS[switch][1])

    ranking, at_mark = pick("adl_rank", ADL_RANK), other("adl_price")
    adl: AdlRule = ranking if isinstance(ranking, LeveragePnl) and not at_mark else AdlAt(ranking, at_mark)
    interest, weights, index = not other("funding_interest"), not other("funding_weights"), other("funding_price")
    funding: FundingRule = ClampedPremium() if interest and weights and not index else VenueFunding(interest, weights, index)
    return Venue(name=str(table.get("name", "binance")), tiers=pick("tier_key", TIER_KEY),
                 maintenance=pick("maintenance", MAINTENANCE), requirement_fee=pick("requirement_fee", REQUIREMENT_FEE),
                 breach=pick("trigger", TRIGGER), steps=BracketSteps(), penalty=pick("penalty", PENALTY), adl=adl,
                 funding=funding, basis=pick("maintenance_basis", BASIS), close_fee=pick("close_fee", CLOSE_FEE),
                 execution=pick("liquidation", LIQUIDATION))
