"""Events: everything the core did, in past tense. Immutable tuples; `account` routes private events."""

from __future__ import annotations

from typing import Final, NamedTuple

ADMIN: Final = -1  # account field of public or exchange-wide events


class AccountCreated(NamedTuple):
    account: int


class BalanceChanged(NamedTuple):
    account: int
    delta_cash: int
    cross_wallet_cash: int
    reason: str  # DEPOSIT, WITHDRAW, COLLATERAL_SALE (collateral sold to the fund in a liquidation)


class CommandRejected(NamedTuple):
    account: int
    command: str
    code: str
    message: str


class OrderAccepted(NamedTuple):
    account: int
    symbol: str
    order_id: int
    side: int
    order_type: str
    price_ticks: int
    qty_lots: int
    tif: str
    reduce_only: bool
    stop_price_ticks: int
    client_order_id: str


class OrderRejected(NamedTuple):
    account: int
    symbol: str
    client_order_id: str
    code: str
    message: str


class OrderCancelled(NamedTuple):
    account: int
    symbol: str
    order_id: int
    side: int
    price_ticks: int
    remaining_lots: int
    reason: str  # USER, IOC, FOK, STP, MARKET_BAND, NO_LIQUIDITY, LIQUIDATION, ADL, REDUCE_ONLY, INSUFFICIENT_MARGIN,
    # TRIGGER_REJECTED:code


class OrderAmended(NamedTuple):
    account: int
    symbol: str
    order_id: int
    price_ticks: int
    qty_lots: int


class OrderTriggered(NamedTuple):
    account: int
    symbol: str
    order_id: int
    trigger_price_ticks: int


class Trade(NamedTuple):
    symbol: str
    trade_id: int
    price_ticks: int
    qty_lots: int
    taker_side: int
    taker_account: int
    taker_order_id: int
    maker_account: int
    maker_order_id: int
    taker_fee_cash: int
    maker_fee_cash: int
    liquidation: bool


class PositionChanged(NamedTuple):
    account: int
    symbol: str
    size_lots: int
    cost_cash: int  # signed cost basis: entry price = cost / (size * cash_per_tick_lot)
    realized_pnl_cash: int  # realized by this change
    wallet_cash: int  # the wallet the position lives in (cross wallet or isolated wallet) after it


class LeverageSet(NamedTuple):
    account: int
    symbol: str
    leverage: int


class MarginModeSet(NamedTuple):
    account: int
    symbol: str
    mode: str


class IsolatedMarginChanged(NamedTuple):
    account: int
    symbol: str
    delta_cash: int
    isolated_wallet_cash: int
    reason: str  # USER, AUTO_ADD, OPEN (a fill's margin and opening fee), RELEASE (back to the cross wallet)


class AutoAddMarginSet(NamedTuple):
    account: int
    symbol: str
    enabled: bool


class MarkPriceUpdated(NamedTuple):
    symbol: str
    mark_ticks: int
    index_ticks: int
    last_ticks: int


class FundingRateSettled(NamedTuple):
    symbol: str
    rate_e8: int
    mark_ticks: int
    ts_ns: int


class FundingPaid(NamedTuple):
    account: int
    symbol: str
    amount_cash: int  # > 0 received, < 0 paid
    rate_e8: int


class LiquidationTriggered(NamedTuple):
    account: int
    symbol: str  # the isolated position's symbol, "" for the cross account
    mode: str
    margin_balance_cash: int
    maint_margin_cash: int


class LiquidationOrderPlaced(NamedTuple):
    account: int
    symbol: str
    order_id: int
    side: int
    qty_lots: int
    price_ticks: int
    bankruptcy_price_ticks: int
    partial: bool


class PublicLiquidation(NamedTuple):
    symbol: str
    side: int  # the closing side
    qty_lots: int
    bankruptcy_price_ticks: int
    filled_lots: int
    avg_price_ticks: int
    mode: str


class InsuranceFundChanged(NamedTuple):
    symbol: str
    delta_cash: int
    balance_cash: int
    # LIQUIDATION_FEE, LIQUIDATION_SURPLUS, LIQUIDATION_DEFICIT, PARTIAL_LIQUIDATION_FEE (from the account's wallet),
    # BAD_DEBT (to the account's wallet), FUNDING_ROUNDING, ADL_ROUNDING, TAKEOVER_ROUNDING, FUND_POSITION_PNL
    reason: str
    account: int


class Deleveraged(NamedTuple):
    account: int
    symbol: str
    qty_lots: int
    price_ticks: int
    counterparty: int


class TakenOverByFund(NamedTuple):
    """What the book could not take of a liquidation, taken by the insurance fund at the bankruptcy price."""

    account: int
    symbol: str
    qty_lots: int
    price_ticks: int


class TradingHalted(NamedTuple):
    halted: bool


class InstrumentChanged(NamedTuple):
    symbol: str
    name: str
    value: int


class CollateralChanged(NamedTuple):
    """A collateral holding moved: delta and holding after in the asset's atomic units, the holding's haircut
    value in cash after it. reason: DEPOSIT, WITHDRAW, LIQUIDATION_SALE (sold to the insurance fund)."""

    account: int
    asset: str
    delta_units: int
    units: int
    value_cash: int
    reason: str


class BracketsChanged(NamedTuple):
    """An instrument's brackets were replaced (SetBrackets): rows of [floor, cap, max leverage, MMR ppm, cum]."""

    symbol: str
    rows: list[list[int]]


Event = (AccountCreated | BalanceChanged | CommandRejected | OrderAccepted | OrderRejected | OrderCancelled | OrderAmended
         | OrderTriggered | Trade | PositionChanged | LeverageSet | MarginModeSet | IsolatedMarginChanged | AutoAddMarginSet
         | MarkPriceUpdated | FundingRateSettled | FundingPaid | LiquidationTriggered | LiquidationOrderPlaced
         | PublicLiquidation | InsuranceFundChanged | Deleveraged | TakenOverByFund | TradingHalted | InstrumentChanged
         | BracketsChanged | CollateralChanged)
