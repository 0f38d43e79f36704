"""Settlement: a fill applied to a position and the wallet it lives in (realized PnL, fee, the isolated
box's margin), with its events. How the taker of a match settles is a policy object the order carries
through the match: at the fill price (`AtFillPrice`), or a liquidation's (liquidation.py)."""

from __future__ import annotations

from typing import Protocol

from .accounts import Account, Position
from .commands import CROSS
from .events import Event, InsuranceFundChanged, IsolatedMarginChanged, PositionChanged
from .ledger import Ledger
from .margin import closing_cost, initial_margin
from .risk import Risk
from .state import State

_new = tuple.__new__  # builds a NamedTuple event from a ready tuple, skipping its Python-level __new__


class SettlePolicy(Protocol):
    """How the taker of a match settles each fill; `checked`: its fills are margin-checked (a trader's
    order), else it is a forced order (liquidation, the fund's unwind) that takes what it can."""

    checked: bool

    def settle_taker(self, acct: Account, pos: Position, side: int, qty: int, price: int, k: int, fee: int,
                     events: list[Event]) -> None: ...


class Settlement:
    """Applies fills to positions and wallets."""

    __slots__ = ("state", "ledger", "risk")

    def __init__(self, state: State, ledger: Ledger, risk: Risk) -> None:
        self.state = state
        self.ledger = ledger
        self.risk = risk

    def fill(self, acct: Account, pos: Position, side: int, qty: int, price: int, k: int, fee: int,
             events: list[Event], close_value: int | None = None, levy: int = 0) -> int:
        """Apply a fill to a position and its wallet; returns the realized PnL.

        close_value, when given, replaces qty*price*k as the value of the closing part (a liquidation
        settles the liquidated account at the bankruptcy price). levy: a partial liquidation's fee, paid to
        the insurance fund from what the closed lots leave (isolated) or from the margin balance (cross).
        """
        size = pos.size
        self.ledger.fees_collected += fee
        realized = 0
        closed = 0
        if size and (size > 0) != (side > 0):
            closed = qty if qty <= abs(size) else abs(size)
            removed = closing_cost(pos.cost, size, closed)
            value = closed * price * k if close_value is None else close_value
            realized = -side * value - removed
            pos.cost -= removed
            pos.size = size = size + side * closed
            pos.realized_pnl += realized
        opened = qty - closed
        if opened:
            pos.cost += side * opened * price * k
            pos.size = size + side * opened
        if pos.mode == CROSS:
            acct.cross_wallet += realized - fee
            levied = max(0, min(levy, acct.cross_wallet + self.risk.cross_upnl_im(acct)[0])) if levy else 0
            acct.cross_wallet -= levied
            wallet = acct.cross_wallet
        else:
            levied = self._settle_box(acct, pos, closed, opened, size, price, k, realized, fee,
                                      close_value is None, levy, events)
            wallet = pos.isolated_wallet
        events.append(_new(PositionChanged, (acct.id, pos.symbol, pos.size, pos.cost, realized, wallet)))
        if levied:
            self.ledger.to_fund(pos.symbol, levied, "PARTIAL_LIQUIDATION_FEE", acct.id, events)
        if realized and acct is self.state.fund:
            events.append(InsuranceFundChanged(pos.symbol, realized, wallet, "FUND_POSITION_PNL", acct.id))
        self.state.position_changed(acct, pos)
        return realized

    def _settle_box(self, acct: Account, pos: Position, closed: int, opened: int, size_after_close: int,
                    price: int, k: int, realized: int, fee: int, release_margin: bool, levy: int,
                    events: list[Event]) -> int:
        """The box (isolated wallet) after a fill; returns what of `levy` it paid.

        The fill's PnL and fee are the box's. The closed lots' share of the margin, net of their PnL and
        fee, returns to the cross wallet less the levy (which it bounds), so what stays open keeps its
        margin and its bankruptcy price; a close settled at the bankruptcy price (release_margin False)
        releases nothing until flat. Opening draws the new lots' initial margin and their part of the fee
        from the cross wallet (a fill that opens was checked to have it). A loss beyond the box is the
        insurance fund's, never the cross wallet's. Moves between the wallets are IsolatedMarginChanged
        events (RELEASE, OPEN).
        """
        symbol = pos.symbol
        fee_open = fee * opened // (closed + opened)
        box = pos.isolated_wallet
        wallet = box + realized - (fee - fee_open)
        if wallet < 0:
            self.ledger.cover_bad_debt(acct, symbol, -wallet, events)
            wallet = 0
        levied = 0
        if closed:
            if size_after_close == 0:
                release = wallet
            elif release_margin:
                share = box * closed // (closed + abs(size_after_close))
                release = max(0, share + wallet - box)
                levied = min(levy, release)
                release -= levied
                wallet -= levied
            else:
                release = 0
            if release:
                wallet -= release
                acct.cross_wallet += release
                events.append(IsolatedMarginChanged(acct.id, symbol, -release, wallet, "RELEASE"))
        if opened:
            margin = initial_margin(opened * price * k, pos.leverage)
            acct.cross_wallet -= margin + fee_open
            events.append(IsolatedMarginChanged(acct.id, symbol, margin + fee_open, wallet + margin + fee_open, "OPEN"))
            wallet += margin
        pos.isolated_wallet = wallet
        return levied


class AtFillPrice:
    """The ordinary settlement: the taker's fill at its price and fee, like the maker's."""

    __slots__ = ("settlement", "checked")

    def __init__(self, settlement: Settlement, checked: bool) -> None:
        self.settlement = settlement
        self.checked = checked

    def settle_taker(self, acct: Account, pos: Position, side: int, qty: int, price: int, k: int, fee: int,
                     events: list[Event]) -> None:
        self.settlement.fill(acct, pos, side, qty, price, k, fee, events)


class CloseValue:
    """What a close settled at a fixed value (a liquidation at the bankruptcy price) still has to credit:
    each part of `qty` lots takes its share, the last part the rest, so the total is exact."""

    __slots__ = ("value_left", "qty_left")

    def __init__(self, value: int, qty: int) -> None:
        self.value_left = value
        self.qty_left = qty

    def take(self, qty: int) -> int:
        value = self.value_left if qty == self.qty_left else self.value_left * qty // self.qty_left
        self.value_left -= value
        self.qty_left -= qty
        return value
