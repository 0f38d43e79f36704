"""Funding: the time-driven timers of each market (premium samples, then settlement at each interval
boundary), run when an envelope's time passes them."""

from __future__ import annotations

from collections.abc import Iterator

from .events import Event, FundingPaid, FundingRateSettled
from .instruments import Instrument
from .ledger import Ledger
from .market import Market
from .money import E8
from .pricing import Pricing
from .rules import FundingRule
from .state import State


class Funding:
    """Premium sampling and funding settlement over the markets of `pricing`."""

    __slots__ = ("state", "pricing", "ledger", "rule")

    def __init__(self, state: State, pricing: Pricing, ledger: Ledger, rule: FundingRule) -> None:
        self.state = state
        self.pricing = pricing
        self.ledger = ledger
        self.rule = rule

    def run_timers(self, ts: int, events: list[Event]) -> Iterator[str]:
        """Run the funding timers due at or before ts, per symbol in configuration order: premium samples
        (an idle gap adds its samples at once), then settlement. Yields each symbol right after a
        settlement with a mark, so the caller liquidates what the payments breached before going on."""
        instruments = self.state.instruments
        for symbol, m in self.pricing.markets.items():
            if not m.next_funding_ts:
                continue
            inst = instruments[symbol]
            while True:
                horizon = min(ts, m.next_funding_ts)
                if m.next_sample_ts <= horizon:
                    n = (horizon - m.next_sample_ts) // inst.funding_sample_ns + 1
                    self._sample_premium(inst, m, n)
                    m.next_sample_ts += n * inst.funding_sample_ns
                elif m.next_funding_ts <= ts:
                    self._settle(inst, m, events)
                    m.next_funding_ts += inst.funding_interval_ns
                    if m.mark:
                        yield symbol
                else:
                    break
        self.pricing.update_next_timer()

    def _sample_premium(self, inst: Instrument, m: Market, n: int) -> None:
        """Add n equal samples of the current premium index, weighted by the funding rule."""
        premium = self.pricing.premium_index_e8(inst.symbol)
        weight = self.rule.weight(m.premium_count, n)
        m.premium_weighted += premium * weight
        m.premium_weights += weight
        m.premium_count += n

    def _settle(self, inst: Instrument, m: Market, events: list[Event]) -> None:
        """The interval's rate from its average premium; every holder pays or receives on its notional
        (payers round up and pay at most their wallet, receivers round down; the fund keeps the rest)."""
        premium = m.premium_weighted // m.premium_weights if m.premium_weights else 0
        rate = self.rule.rate_e8(inst, premium)
        m.funding_rate = rate
        m.premium_weighted = m.premium_weights = m.premium_count = 0
        events.append(FundingRateSettled(inst.symbol, rate, m.mark, m.next_funding_ts))
        if not rate or not m.mark:
            return
        k = inst.cash_per_tick_lot
        price = self.rule.payment_price(m.mark, m.index)
        accounts, ledger = self.state.accounts, self.ledger
        residue = 0
        for account, pos in list(self.state.holders[inst.symbol].items()):
            owed = abs(pos.size) * price * k * rate  # x E8; > 0: this position pays when long and rate > 0
            acct = accounts[account]
            if (pos.size > 0) == (rate > 0):
                amount = -((-abs(owed)) // E8)  # payer rounds up
                wallet = pos.isolated_wallet if pos.isolated else acct.cross_wallet
                paid = min(amount, max(0, wallet))
                residue += paid
                delta = -paid
            else:
                delta = abs(owed) // E8  # receiver rounds down
                residue -= delta
            ledger.credit(acct, pos, delta)
            events.append(FundingPaid(account, inst.symbol, delta, rate))
        if residue:
            ledger.to_fund(inst.symbol, residue, "FUNDING_ROUNDING", -1, events)
