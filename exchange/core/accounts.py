"""Accounts and positions: one net position per symbol (one-way mode), cross or isolated margin."""

from __future__ import annotations

from collections.abc import Iterable

from .book import Order
from .commands import CROSS

DEFAULT_LEVERAGE = 20
# symbol, size, cost, mode, leverage, isolated wallet, auto-add, realized PnL, open orders, reduce-only orders
PositionState = tuple[str, int, int, str, int, int, bool, int, int, int]


class Position:
    """Net position and margin settings of one account in one symbol.

    size: signed lots (+ long); cost: signed cost basis in cash (entry = cost / (size * k));
    isolated_wallet: the margin bucket of an isolated position (0 under cross).
    """

    __slots__ = ("account", "symbol", "size", "cost", "mode", "leverage", "isolated_wallet", "auto_add",
                 "realized_pnl", "open_orders", "reduce_only_orders")

    def __init__(self, account: int, symbol: str) -> None:
        self.account = account
        self.symbol = symbol
        self.size = 0
        self.cost = 0
        self.mode = CROSS
        self.leverage = DEFAULT_LEVERAGE
        self.isolated_wallet = 0
        self.auto_add = False
        self.realized_pnl = 0
        self.open_orders = 0
        self.reduce_only_orders = 0

    @property
    def isolated(self) -> bool:
        return self.mode != CROSS

    def state(self) -> PositionState:
        return (self.symbol, self.size, self.cost, self.mode, self.leverage, self.isolated_wallet,
                self.auto_add, self.realized_pnl, self.open_orders, self.reduce_only_orders)

    @classmethod
    def from_state(cls, account: int, s: PositionState) -> Position:
        p = cls(account, s[0])
        (p.size, p.cost, p.mode, p.leverage, p.isolated_wallet, p.auto_add, p.realized_pnl,
         p.open_orders, p.reduce_only_orders) = s[1:]
        return p


class Account:
    """Cash and positions of one trader. cross_wallet excludes the isolated wallets."""

    __slots__ = ("id", "cross_wallet", "positions", "orders", "order_margin", "deposited", "withdrawn")

    def __init__(self, account_id: int, symbols: Iterable[str] = ()) -> None:
        self.id = account_id
        self.cross_wallet = 0
        self.positions: dict[str, Position] = {s: Position(account_id, s) for s in symbols}
        self.orders: dict[int, Order] = {}  # open orders, resting and untriggered, all symbols
        self.order_margin = 0  # sum of the open orders' reserves
        self.deposited = 0
        self.withdrawn = 0

    def wallet_total(self) -> int:
        return self.cross_wallet + sum(p.isolated_wallet for p in self.positions.values())
