"""What an agent sees, the same in every shell that hosts agents in-process (the virtual-time kernel,
the server's live population): which agents an event goes to, and market views read from the core.

An event goes to the agents it concerns (a trade to its taker's and its maker's agent, any other
event with an `account` to that account's agent) and, for the public kinds, to the agents that
subscribed to the kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.engine import Exchange
from ..core.events import FundingRateSettled, MarkPriceUpdated, PublicLiquidation, Trade
from .agent import BOOK, FUNDING, LIQUIDATIONS, MARK, TRADES, Agent, MarketView, TopOfBook

PUBLIC_KINDS = {MarkPriceUpdated: MARK, Trade: TRADES, PublicLiquidation: LIQUIDATIONS, FundingRateSettled: FUNDING,
                TopOfBook: BOOK}


class Router:
    """Agent indices by account and by subscribed public kind."""

    def __init__(self, agents: Sequence[Agent]) -> None:
        self.by_account = {a.ctx.account: i for i, a in enumerate(agents)}
        self.subscribers: dict[str, list[int]] = {}
        for i, a in enumerate(agents):
            for kind in a.subscriptions:
                self.subscribers.setdefault(kind, []).append(i)

    def parties(self, ev: Any) -> list[int]:
        """The agents whose own account the event is about (taker first, then maker, for a trade)."""
        by_account = self.by_account
        if type(ev) is Trade:
            out = []
            i = by_account.get(ev.taker_account, -1)
            if i >= 0:
                out.append(i)
            if ev.maker_account != ev.taker_account:
                i = by_account.get(ev.maker_account, -1)
                if i >= 0:
                    out.append(i)
            return out
        if type(ev) in PUBLIC_KINDS:
            return []
        i = by_account.get(getattr(ev, "account", -1), -1)
        return [i] if i >= 0 else []

    def targets(self, ev: Any) -> list[int]:
        """Every agent the event goes to: its parties, then the subscribers of its public kind."""
        kind = PUBLIC_KINDS.get(type(ev))
        if kind is None:  # the common case, inlined: a private event
            i = self.by_account.get(getattr(ev, "account", -1), -1)
            return [i] if i >= 0 else []
        subs = self.subscribers.get(kind, [])
        return self.parties(ev) + subs if kind == TRADES else subs


def refresh_view(view: MarketView, exchange: Exchange) -> bool:
    """Bring a symbol's view up to date from the core; True if the top of the book changed."""
    book = exchange.books[view.symbol]
    m = exchange.markets[view.symbol]
    view.mark, view.index, view.last = m.mark, m.index, m.last
    return view.set_book(book.best_bid, book.best_ask)
