"""Multi-asset collateral: a cross account may hold assets besides the settlement cash (USDC, BTC, ...),
each valued at its price x a collateral value ratio (the haircut), as Binance's multi-assets mode and
Bybit's unified account do (docs/venues.md, "Collateral").

The haircut value counts as cash of the cross account wherever margin is measured (`Risk.cross_cash`:
margin balance, available and free balance, the breach test and index, the bankruptcy price, the
reservation rule), so a falling collateral price can breach an account by itself: a price change of an
asset re-indexes its holders and the liquidation runs on every symbol. Isolated margin needs cash.

The waterfall: positions are liquidated as for any account; what the cross wallet is left short of
after that is covered by selling collateral to the insurance fund at its haircut value (the value the
margin arithmetic counted), in the configured order of the assets, the fund keeping the haircut as
its spread; what no collateral covers is bad debt, as before.

Units: an asset is held in atomic units (10**-decimals of one unit); its price is cash units per whole
unit. Value = units x price x ratio / (10**decimals x 10**6), rounded down (against the account).
Conservation per asset: deposited - withdrawn = what the accounts hold + what the fund bought.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .accounts import Account
from .events import BalanceChanged, CollateralChanged, Event
from .instruments import Instrument
from .ledger import Ledger
from .money import PPM, cash_from_str, ceil_div, ppm_from_str
from .state import State


@dataclass(frozen=True, slots=True)
class Asset:
    """A collateral asset: `index_symbol` prices it at that instrument's index (per whole base unit), else
    `price_cash` (cash per whole unit) is fixed."""

    name: str
    decimals: int
    value_ratio_ppm: int
    index_symbol: str = ""
    price_cash: int = 0


def asset_from_config(name: str, cfg: dict[str, Any], symbols: Iterable[str]) -> Asset:
    """An `[collateral.NAME]` table: decimals, value_ratio (the haircut, e.g. "0.95"), and either index (an
    instrument whose index prices it) or price (cash per whole unit, fixed)."""
    decimals, index, price = cfg.get("decimals", 8), cfg.get("index", ""), cfg.get("price")
    ratio = ppm_from_str(str(cfg.get("value_ratio", "1")))
    if type(decimals) is not int or not 0 <= decimals <= 18 or not 0 <= ratio <= PPM:
        raise ValueError(f"collateral {name}: decimals must be an int in [0, 18] and value_ratio in [0, 1]")
    if bool(index) == (price is not None) or (index and index not in set(symbols)):
        raise ValueError(f"collateral {name}: give either index (one of the instruments) or a fixed price")
    unknown = set(cfg) - {"decimals", "value_ratio", "index", "price"}
    if unknown:
        raise ValueError(f"collateral {name}: unknown keys {sorted(unknown)}")
    return Asset(name, decimals, ratio, str(index), 0 if price is None else cash_from_str(str(price)))


class Collateral:
    """Holdings of collateral assets per account, their prices, and the waterfall's sale to the fund."""

    __slots__ = ("state", "ledger", "assets", "prices", "holdings", "fund", "deposited", "withdrawn", "priced_by", "scales")

    def __init__(self, state: State, ledger: Ledger, assets: Iterable[Asset]) -> None:
        self.state = state
        self.ledger = ledger
        self.assets = {a.name: a for a in assets}
        self.prices = {a.name: a.price_cash for a in self.assets.values()}
        self.holdings: dict[int, dict[str, int]] = {}  # account -> asset -> units (only accounts that hold any)
        self.fund = {name: 0 for name in self.assets}  # what the insurance fund bought in liquidations
        self.deposited = {name: 0 for name in self.assets}
        self.withdrawn = {name: 0 for name in self.assets}
        self.priced_by = {a.index_symbol: a.name for a in self.assets.values() if a.index_symbol}
        self.scales: dict[str, int] = {a.name: int(10**a.decimals) * PPM for a in self.assets.values()}

    def value(self, account: int) -> int:
        """The haircut value in cash of an account's collateral (0 for an account that holds none)."""
        held = self.holdings.get(account)
        return sum(self.units_value(name, units) for name, units in held.items()) if held else 0

    def units_value(self, name: str, units: int) -> int:
        return units * self.prices[name] * self.assets[name].value_ratio_ppm // self.scales[name]  # down: against the account

    def released_value(self, account: int, name: str, units: int) -> int:
        """The margin (cash) an account's collateral loses if `units` of `name` leave it."""
        held = self.holdings.get(account, {}).get(name, 0)
        return self.value(account) - self.units_value(name, held - units)

    def withdrawable(self, account: int, name: str, free_cash: int) -> int:
        """The most units of `name` that may leave while the free balance covers the margin they release."""
        lo, hi = 0, self.holdings.get(account, {}).get(name, 0)
        while lo < hi:  # released_value grows with units: the largest that fits
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if self.released_value(account, name, mid) <= free_cash else (lo, mid - 1)
        return lo

    def on_index(self, inst: Instrument, index_ticks: int) -> bool:
        """A new index of `inst`: the price of the asset it prices, and its holders marked for re-indexing.
        True when some account holds that asset (its margin moved)."""
        name = self.priced_by.get(inst.symbol)
        if name is None:
            return False
        lots_per_unit = int(1 / inst.lot_step)
        self.prices[name] = index_ticks * inst.cash_per_tick_lot * lots_per_unit
        moved = False
        for account, held in self.holdings.items():
            if held.get(name):
                self.state.changed[account] = None
                if self.state.accounts[account].order_margin:
                    self.state.recheck[account] = None
                moved = True
        return moved

    def move(self, acct: Account, name: str, units: int, reason: str, events: list[Event]) -> None:
        """Credit (units > 0) or debit the account's holding of an asset (the caller checked it may)."""
        held = self.holdings.setdefault(acct.id, {})
        after = held.get(name, 0) + units
        if after:
            held[name] = after
        else:
            held.pop(name, None)
            if not held:
                del self.holdings[acct.id]
        if reason == "DEPOSIT":
            self.deposited[name] += units
        elif reason == "WITHDRAW":
            self.withdrawn[name] -= units
        self.state.changed[acct.id] = None
        if acct.order_margin and units < 0:
            self.state.recheck[acct.id] = None
        events.append(CollateralChanged(acct.id, name, units, after, self.units_value(name, after), reason))

    def cover_shortfall(self, acct: Account, events: list[Event]) -> None:
        """The waterfall's last step before bad debt: sell collateral (in the assets' order) to the fund at
        its haircut value until the cross wallet is no longer negative, or nothing is left."""
        held = self.holdings.get(acct.id)
        for name in list(self.assets):
            if acct.cross_wallet >= 0 or not held:
                return
            a = self.assets[name]
            units, per_unit = held.get(name, 0), self.prices[name] * a.value_ratio_ppm  # x 10**-(decimals + 6) cash
            if not units or not per_unit:
                continue
            scale = self.scales[name]
            need = ceil_div(-acct.cross_wallet * scale, per_unit)  # up: enough to cover the shortfall
            sold = min(units, need, self.ledger.insurance_fund * scale // per_unit)  # no more than the fund can pay
            if not sold:
                return
            cash = self.units_value(name, sold)
            self.move(acct, name, -sold, "LIQUIDATION_SALE", events)
            self.fund[name] += sold
            acct.cross_wallet += cash
            events.append(BalanceChanged(acct.id, cash, acct.cross_wallet, "COLLATERAL_SALE"))
            self.ledger.to_fund("", -cash, "COLLATERAL_BOUGHT", acct.id, events)
            held = self.holdings.get(acct.id)

    def state_data(self) -> list[Any]:
        return [sorted([a, sorted(h.items())] for a, h in self.holdings.items()), sorted(self.fund.items()),
                sorted(self.deposited.items()), sorted(self.withdrawn.items()), sorted(self.prices.items())]

    def restore(self, data: list[Any]) -> None:
        holdings, fund, deposited, withdrawn, prices = data
        self.holdings = {a: {n: u for n, u in h} for a, h in holdings}
        self.fund, self.deposited, self.withdrawn = dict(fund), dict(deposited), dict(withdrawn)
        self.prices = dict(prices)

    def check_invariants(self) -> None:
        """Each asset is conserved exactly and no holding is negative."""
        for name in self.assets:
            held = sum(h.get(name, 0) for h in self.holdings.values())
            assert all(h.get(name, 0) >= 0 for h in self.holdings.values()), f"negative holding of {name}"
            assert self.deposited[name] - self.withdrawn[name] == held + self.fund[name], f"{name} not conserved"
        assert all(h for h in self.holdings.values()), "an empty holding is kept"
