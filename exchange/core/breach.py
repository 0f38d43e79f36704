"""The breach index: every margin bucket keyed by the mark at which it could be breached, so that a mark
tick with nobody breached costs O(1) whatever the number of accounts.

Per symbol, long entries breach when mark <= threshold, short entries when mark >= threshold, each in a
SortedList. An isolated position and a single-symbol cross account are indexed at their exact
liquidation price. A cross account holding k symbols splits its margin cushion (margin balance -
maintenance margin) into k equal shares and is indexed in each symbol at the price that would use up
that symbol's share: no breach can happen before one of them is crossed. Only accounts whose state
changed (`State.changed`) are re-indexed, lazily, right before the index is read.
"""

from __future__ import annotations

from typing import Final

from sortedcontainers import SortedList

from .accounts import Account, Position
from .margin import Price
from .money import PPM
from .risk import Risk
from .state import State

ALWAYS: Final = 1 << 62  # a long threshold that every mark crosses
AUTO_ADD_SCALE_PPM: Final = 1_250_000  # auto-add margin when margin ratio reaches 80%

Entry = tuple[bool, int]  # (is_long, threshold ticks)


def threshold(price: Price | None, is_long: bool) -> int:
    """Long: breached iff mark <= floor(P). Short: iff mark >= ceil(P). No P: never (long) / always (short)."""
    if price is None:
        return 0
    num, den = price
    return num // den if is_long else -((-num) // den)


class BreachIndex:
    """Thresholds keyed by (account, symbol, isolated)."""

    __slots__ = ("longs", "shorts", "entries")

    def __init__(self, symbols: list[str]) -> None:
        self.longs: dict[str, SortedList[tuple[int, int, int]]] = {s: SortedList() for s in symbols}
        self.shorts: dict[str, SortedList[tuple[int, int, int]]] = {s: SortedList() for s in symbols}
        self.entries: dict[tuple[int, str, int], Entry] = {}

    def put(self, account: int, symbol: str, iso: int, is_long: bool, threshold: int) -> None:
        key = (account, symbol, iso)
        old = self.entries.get(key)
        if old is not None:
            if old == (is_long, threshold):
                return
            (self.longs if old[0] else self.shorts)[symbol].remove((old[1], account, iso))
        self.entries[key] = (is_long, threshold)
        (self.longs if is_long else self.shorts)[symbol].add((threshold, account, iso))

    def discard(self, account: int, symbol: str, iso: int) -> None:
        old = self.entries.pop((account, symbol, iso), None)
        if old is not None:
            (self.longs if old[0] else self.shorts)[symbol].remove((old[1], account, iso))

    def pop_crossed(self, symbol: str, mark: int) -> list[tuple[int, int]]:
        """Remove and return (account, iso) of every entry the mark has crossed."""
        out = []
        longs, shorts = self.longs[symbol], self.shorts[symbol]
        while longs and longs[-1][0] >= mark:
            _, account, iso = longs.pop()
            del self.entries[(account, symbol, iso)]
            out.append((account, iso))
        while shorts and shorts[0][0] <= mark:
            _, account, iso = shorts.pop(0)
            del self.entries[(account, symbol, iso)]
            out.append((account, iso))
        return out

    def state(self) -> list[tuple[tuple[int, str, int], Entry]]:
        return sorted(self.entries.items())


class BreachWatch:
    """Keeps the breach index up to date with the accounts (`flush`) and says who a mark has crossed."""

    __slots__ = ("state", "risk", "index")

    def __init__(self, state: State, risk: Risk) -> None:
        self.state = state
        self.risk = risk
        self.index = BreachIndex(list(state.instruments))

    def entries(self) -> dict[tuple[int, str, int], Entry]:
        """The index, (account, symbol, isolated) -> (is_long, threshold ticks), brought up to date."""
        self.flush()
        return self.index.entries

    def crossed(self, symbol: str, mark: int) -> list[tuple[int, int]]:
        """(account, isolated) of the buckets whose threshold the mark has crossed, out of the index."""
        self.flush()
        return self.index.pop_crossed(symbol, mark)

    def flush(self) -> None:
        """Re-index the accounts whose state changed. Done lazily, before the index is read (a mark tick,
        a funding settlement, a snapshot): marks change only at ticks, so the result does not depend on
        when between two ticks it runs."""
        state = self.state
        if not state.margin_checks:
            state.changed.clear()
            return
        while state.changed:
            pending, state.changed = state.changed, {}  # a fresh dict: popping a big one from the front is O(n)
            for account in pending:
                self._reindex(state.accounts[account])

    def _reindex(self, acct: Account) -> None:
        idx = self.index
        wanted = self.thresholds(acct)
        for symbol in acct.positions:
            for iso in (0, 1):
                entry = wanted.get((symbol, iso))
                if entry is None:
                    idx.discard(acct.id, symbol, iso)
                else:
                    idx.put(acct.id, symbol, iso, *entry)

    def thresholds(self, acct: Account) -> dict[tuple[str, int], Entry]:
        """Where the account belongs in the breach index: (symbol, isolated) -> (is_long, threshold)."""
        risk = self.risk
        solve = risk.venue.position_price
        instruments, markets = self.state.instruments, risk.markets
        out = {}
        cross: list[Position] = []
        for symbol, pos in acct.positions.items():
            if not pos.size or not markets[symbol].mark:
                continue
            if pos.isolated:
                scale = AUTO_ADD_SCALE_PPM if pos.auto_add else PPM
                lp = solve(instruments[symbol], pos, pos.isolated_wallet, scale)
                out[symbol, 1] = (pos.size > 0, threshold(lp, pos.size > 0))
            else:
                cross.append(pos)
        if len(cross) == 1:
            pos = cross[0]
            lp = solve(instruments[pos.symbol], pos, risk.cross_cash(acct))
            out[pos.symbol, 0] = (pos.size > 0, threshold(lp, pos.size > 0))
        elif cross:
            upnl, mm, _, n = risk.cross_totals(acct)
            cushion = (risk.cross_cash(acct) + upnl) * PPM - mm
            share = cushion // n
            for pos in cross:
                is_long = pos.size > 0
                if cushion <= 0:
                    at = ALWAYS if is_long else 0
                else:
                    own = risk.upnl(pos) * PPM - risk.mm_ppm(pos)
                    other = (share - own) // PPM
                    at = threshold(solve(instruments[pos.symbol], pos, other), is_long)
                out[pos.symbol, 0] = (is_long, at)
        return out

    def check_invariants(self) -> None:
        """After a flush, the index holds exactly the positions with a size and a mark. Isolated positions
        and single-symbol cross accounts sit at the threshold a fresh re-index gives. A cross account with
        several symbols was split by the marks of its last re-index, which other symbols' ticks have moved
        since: each of its entries must still fire no later than that position's own liquidation price
        with the other positions at their current marks."""
        self.flush()
        risk = self.risk
        accounts = self.state.accounts
        entries = self.index.entries
        fresh = {(acct.id, s, iso): e for acct in accounts.values() for (s, iso), e in self.thresholds(acct).items()}
        assert entries.keys() == (fresh.keys() if self.state.margin_checks else set()), \
            "breach index holds other positions than a fresh re-index"
        for (account, symbol, iso), (is_long, at) in entries.items():
            acct = accounts[account]
            pos = acct.positions[symbol]
            assert is_long == (pos.size > 0), f"breach entry of {account} {symbol} on the wrong side"
            if iso or sum(1 for p in acct.positions.values() if p.size and not p.isolated) == 1:
                assert fresh[account, symbol, iso] == (is_long, at), \
                    f"breach threshold of {account} {symbol}: {at}, a fresh re-index gives {fresh[account, symbol, iso]}"
                continue
            other = risk.backing(acct, pos) - risk.others_mm_ppm(acct, pos) // PPM
            own = threshold(risk.venue.position_price(self.state.instruments[symbol], pos, other), is_long)
            assert (at >= own) if is_long else (at <= own), \
                f"breach threshold of {account} {symbol} ({at}) lies past its liquidation price ({own})"
        listed = {(s, lg, t, a, i) for lg, side in ((True, self.index.longs), (False, self.index.shorts))
                  for s, lst in side.items() for t, a, i in lst}
        assert listed == {(s, lg, t, a, i) for (a, s, i), (lg, t) in entries.items()}, "sorted thresholds out of sync"
