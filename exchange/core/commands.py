"""Commands: the only inputs of the core. Immutable tuples (NamedTuple: cheap to build on the hot path,
encodable as plain arrays on the wire and in the journal)."""

from __future__ import annotations

from typing import Final, NamedTuple

BUY: Final = 1
SELL: Final = -1

LIMIT: Final = "LIMIT"
MARKET: Final = "MARKET"
STOP: Final = "STOP"
STOP_MARKET: Final = "STOP_MARKET"
TAKE_PROFIT: Final = "TAKE_PROFIT"
TAKE_PROFIT_MARKET: Final = "TAKE_PROFIT_MARKET"
ORDER_TYPES: Final = (LIMIT, MARKET, STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET)
TRIGGER_TYPES: Final = (STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET)

GTC: Final = "GTC"
IOC: Final = "IOC"
FOK: Final = "FOK"
GTX: Final = "GTX"  # post-only
TIFS: Final = (GTC, IOC, FOK, GTX)

STP_NONE: Final = "NONE"
STP_EXPIRE_TAKER: Final = "EXPIRE_TAKER"
STP_EXPIRE_MAKER: Final = "EXPIRE_MAKER"
STP_EXPIRE_BOTH: Final = "EXPIRE_BOTH"
STP_MODES: Final = (STP_NONE, STP_EXPIRE_TAKER, STP_EXPIRE_MAKER, STP_EXPIRE_BOTH)

MARK_PRICE: Final = "MARK_PRICE"
CONTRACT_PRICE: Final = "CONTRACT_PRICE"
WORKING_TYPES: Final = (MARK_PRICE, CONTRACT_PRICE)

CROSS: Final = "CROSS"
ISOLATED: Final = "ISOLATED"
MARGIN_MODES: Final = (CROSS, ISOLATED)


def as_sent(cmd: tuple[object, ...]) -> tuple[object, ...]:
    """A command's fields as they came, for the checks that give each its declared type: a field holds its
    type only once checked, and the core compiled with mypyc checks a field's declared type as it reads
    it (TypeError, an INTERNAL_ERROR, where the check would have named the rejection)."""
    return cmd


class PlaceOrder(NamedTuple):
    account: int
    symbol: str
    side: int
    qty_lots: int
    price_ticks: int = 0
    order_type: str = LIMIT
    tif: str = GTC
    reduce_only: bool = False
    stop_price_ticks: int = 0
    working_type: str = MARK_PRICE
    stp: str = STP_NONE
    client_order_id: str = ""


class CancelOrder(NamedTuple):
    account: int
    symbol: str
    order_id: int


class CancelAll(NamedTuple):
    account: int
    symbol: str


class AmendOrder(NamedTuple):
    account: int
    symbol: str
    order_id: int
    qty_lots: int
    price_ticks: int


class CreateAccount(NamedTuple):
    """Create an account, credited with deposit_cash, all or nothing (a journal record of only the
    account still decodes: the deposit defaults to 0)."""

    account: int
    deposit_cash: int = 0


class Deposit(NamedTuple):
    account: int
    amount_cash: int


class Withdraw(NamedTuple):
    account: int
    amount_cash: int


class SetLeverage(NamedTuple):
    account: int
    symbol: str
    leverage: int


class SetMarginMode(NamedTuple):
    account: int
    symbol: str
    mode: str


class AdjustIsolatedMargin(NamedTuple):
    account: int
    symbol: str
    amount_cash: int  # > 0 adds margin from the cross wallet, < 0 removes it


class SetAutoAddMargin(NamedTuple):
    account: int
    symbol: str
    enabled: bool


class IndexPrice(NamedTuple):
    symbol: str
    price_ticks: int


class Heartbeat(NamedTuple):
    pass


class SetTradingHalted(NamedTuple):
    halted: bool


class SetInstrumentParam(NamedTuple):
    symbol: str
    name: str
    value: int


class DepositAsset(NamedTuple):
    """Credit collateral of a non-settlement asset (atomic units of it) to an account's cross margin."""

    account: int
    asset: str
    units: int


class WithdrawAsset(NamedTuple):
    account: int
    asset: str
    units: int


class SetBrackets(NamedTuple):
    """Replace an instrument's leverage brackets (maintenance rates) live: rows of [floor cash, cap cash,
    max leverage, MMR ppm], the first at floor 0, each starting at the previous cap (cum is derived)."""

    symbol: str
    rows: list[list[int]]


Command = (PlaceOrder | CancelOrder | CancelAll | AmendOrder | CreateAccount | Deposit | Withdraw | SetLeverage
           | SetMarginMode | AdjustIsolatedMargin | SetAutoAddMargin | IndexPrice | Heartbeat | SetTradingHalted
           | SetInstrumentParam | SetBrackets | DepositAsset | WithdrawAsset)


class Envelope(NamedTuple):
    """A sequenced command: what the journal holds and `Exchange.apply` takes (anything that is not a
    Command is answered with CommandRejected INVALID_COMMAND)."""

    seq: int
    ts_ns: int
    origin: str
    command: Command


COMMAND_TYPES: tuple[type, ...] = (
    PlaceOrder, CancelOrder, CancelAll, AmendOrder, CreateAccount, Deposit, Withdraw, SetLeverage,
    SetMarginMode, AdjustIsolatedMargin, SetAutoAddMargin, IndexPrice, Heartbeat, SetTradingHalted,
    SetInstrumentParam, SetBrackets, DepositAsset, WithdrawAsset,
)
COMMANDS_BY_NAME: dict[str, type] = {c.__name__: c for c in COMMAND_TYPES}
