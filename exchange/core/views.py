"""Read-only views of an Exchange for queries: plain dicts of integers in core units.

Keys carry their unit (`_ticks`, `_lots`, `_cash`, `_ppm`, `_e8`, `_ns`); computed prices that need
not fall on a tick (entry, liquidation, bankruptcy) are Fractions of ticks. Nothing here mutates
state; decimal strings are made at the wire layer.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .accounts import Account, Position
from .book import Order
from .commands import TRIGGER_TYPES
from .margin import as_fraction, bankruptcy_price
from .money import PPM, ceil_div

if TYPE_CHECKING:
    from .engine import Exchange


def ratio_ppm(mm_ppm: int, margin_balance: int) -> int | None:
    """Maintenance margin / margin balance in ppm (10**6 = liquidation), None when the balance <= 0."""
    return mm_ppm // margin_balance if margin_balance > 0 else None


def account_view(ex: Exchange, account: int) -> dict[str, Any] | None:
    """Balances and the cross margin ratio of one account, or None if it does not exist."""
    acct = ex.accounts.get(account)
    if acct is None:
        return None
    risk = ex.risk
    upnl, mm_ppm, im, _ = risk.cross_totals(acct)
    iso_wallet = iso_upnl = 0
    for pos in acct.positions.values():
        if pos.isolated and pos.size:
            iso_wallet += pos.isolated_wallet
            iso_upnl += risk.upnl(pos)
    collateral = risk.collateral.value(acct.id)
    margin_balance = acct.cross_wallet + collateral + upnl
    return {
        "account": acct.id,
        "wallet_cash": acct.cross_wallet + iso_wallet,
        "cross_wallet_cash": acct.cross_wallet,
        "collateral_value_cash": collateral,
        "isolated_wallet_cash": iso_wallet,
        "unrealized_pnl_cash": upnl + iso_upnl,
        "cross_unrealized_pnl_cash": upnl,
        "margin_balance_cash": margin_balance,
        "maint_margin_cash": ceil_div(mm_ppm, PPM),
        "initial_margin_cash": im,
        "order_margin_cash": acct.order_margin,
        "available_cash": risk.available(acct),
        "free_cash": risk.free_balance(acct),
        "margin_ratio_ppm": ratio_ppm(mm_ppm, margin_balance),
        "deposited_cash": acct.deposited,
        "withdrawn_cash": acct.withdrawn,
    }


def collateral_view(ex: Exchange, account: int) -> list[dict[str, Any]]:
    """The collateral assets an account holds: units, their haircut value in cash, and how many may be
    withdrawn now."""
    acct, collateral = ex.accounts.get(account), ex.collateral
    held = collateral.holdings.get(account)
    if acct is None or not held:
        return []
    free = ex.risk.free_balance(acct)
    return [{"asset": name, "units": units, "decimals": collateral.assets[name].decimals,
             "value_cash": collateral.units_value(name, units),
             "withdrawable_units": collateral.withdrawable(account, name, free)}
            for name, units in sorted(held.items())]


def position_view(ex: Exchange, acct: Account, pos: Position) -> dict[str, Any]:
    """Size, entry, mark, PnL, liquidation and bankruptcy prices, margin ratio and ADL quantile."""
    risk = ex.risk
    inst = ex.instruments[pos.symbol]
    k = inst.cash_per_tick_lot
    market = ex.markets[pos.symbol]
    size = pos.size
    upnl = risk.upnl(pos)
    notional = risk.notional(pos)
    mm_ppm = risk.mm_ppm(pos)
    liq = bankrupt = None
    if size:
        backing = risk.backing(acct, pos)
        # at the liquidation price the other cross positions keep their MM: Binance's WB - TMM1 + UPNL1
        other = (backing * PPM - risk.others_mm_ppm(acct, pos)) // PPM
        liq = as_fraction(ex.venue.position_price(inst, pos, other))
        bankrupt = as_fraction(bankruptcy_price(size, pos.cost, backing, k))
    if pos.isolated:
        ratio = ratio_ppm(mm_ppm, pos.isolated_wallet + upnl) if size else 0
    else:
        cross_upnl, cross_mm_ppm, _, _ = risk.cross_totals(acct)
        ratio = ratio_ppm(cross_mm_ppm, risk.cross_cash(acct) + cross_upnl) if size else 0
    return {
        "symbol": pos.symbol,
        "size_lots": size,
        "mode": pos.mode,
        "leverage": pos.leverage,
        "entry_price_ticks": Fraction(pos.cost, size * k) if size else None,
        "mark_price_ticks": market.mark,
        "notional_cash": notional,
        "unrealized_pnl_cash": upnl,
        "realized_pnl_cash": pos.realized_pnl,
        "isolated_wallet_cash": pos.isolated_wallet,
        "initial_margin_cash": risk.im(pos),
        "maint_margin_cash": ceil_div(mm_ppm, PPM),
        "liquidation_price_ticks": liq,
        "bankruptcy_price_ticks": bankrupt,
        "margin_ratio_ppm": ratio,
        "adl_quantile": ex.adl.quantile(acct.id, pos.symbol) if size else 0,
        "auto_add_margin": pos.auto_add,
    }


def positions_view(ex: Exchange, account: int, symbol: str | None = None) -> list[dict[str, Any]] | None:
    """Views of the account's positions with a size or settings (every symbol when none is given)."""
    acct = ex.accounts.get(account)
    if acct is None:
        return None
    return [position_view(ex, acct, p) for s, p in acct.positions.items() if symbol is None or s == symbol]


def order_view(order: Order) -> dict[str, Any]:
    """An open order (resting or untriggered)."""
    untriggered = order.order_type in TRIGGER_TYPES
    filled = order.filled
    return {
        "order_id": order.oid,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.order_type,
        "price_ticks": order.price,
        "stop_price_ticks": order.stop_price,
        "qty_lots": order.orig_qty,
        "filled_lots": filled,
        "remaining_lots": order.qty,
        "tif": order.tif,
        "reduce_only": order.reduce_only,
        "status": "UNTRIGGERED" if untriggered else ("PARTIALLY_FILLED" if filled else "NEW"),
    }


def open_orders_view(ex: Exchange, account: int, symbol: str | None = None) -> list[dict[str, Any]] | None:
    acct = ex.accounts.get(account)
    if acct is None:
        return None
    return [order_view(o) for o in acct.orders.values() if symbol is None or o.symbol == symbol]


def open_order(ex: Exchange, account: int, order_id: int) -> Order | None:
    acct = ex.accounts.get(account)
    return acct.orders.get(order_id) if acct is not None else None


def book_view(ex: Exchange, symbol: str, depth: int | None = None) -> dict[str, Any]:
    """Aggregated levels, best first: bids and asks as [[price_ticks, qty_lots], ...]."""
    book = ex.books[symbol]
    return {"symbol": symbol, "bids": book.depth(1, depth), "asks": book.depth(-1, depth)}


def instrument_view(ex: Exchange, symbol: str) -> dict[str, Any]:
    inst = ex.instruments[symbol]
    return {
        "symbol": symbol,
        "tick_size": inst.tick_size,
        "lot_step": inst.lot_step,
        "min_qty_lots": inst.min_qty_lots,
        "max_qty_lots": inst.max_qty_lots,
        "market_max_qty_lots": inst.market_max_qty_lots,
        "min_notional_cash": inst.min_notional_cash,
        "min_price_ticks": inst.min_price_ticks,
        "max_price_ticks": inst.max_price_ticks,
        "price_band_ppm": inst.price_band_ppm,
        "max_open_orders": inst.max_open_orders,
        "maker_fee_ppm": inst.maker_fee_ppm,
        "taker_fee_ppm": inst.taker_fee_ppm,
        "liquidation_fee_ppm": inst.liquidation_fee_ppm,
        "max_leverage": inst.max_leverage,
        "funding_interval_ns": inst.funding_interval_ns,
        "brackets": [{"floor_cash": b.floor_cash, "cap_cash": b.cap_cash, "max_leverage": b.max_leverage,
                      "mmr_ppm": b.mmr_ppm, "cum_cash": b.cum_cash} for b in inst.brackets],
    }


def ticker_view(ex: Exchange, symbol: str) -> dict[str, Any]:
    """Index, mark, last, best bid/ask (0 when none) and funding of one symbol."""
    m = ex.markets[symbol]
    book = ex.books[symbol]
    return {
        "symbol": symbol,
        "index_price_ticks": m.index,
        "mark_price_ticks": m.mark,
        "last_price_ticks": m.last,
        "best_bid_ticks": book.best_bid if book.has_bid() else 0,
        "best_ask_ticks": book.best_ask if book.has_ask() else 0,
        "funding_rate_e8": m.funding_rate,
        "next_funding_ts_ns": m.next_funding_ts,
    }


def funding_view(ex: Exchange, symbol: str) -> dict[str, Any]:
    """Last settled funding rate, the current premium index and the next settlement time."""
    m = ex.markets[symbol]
    inst = ex.instruments[symbol]
    return {
        "symbol": symbol,
        "funding_rate_e8": m.funding_rate,
        "premium_index_e8": ex.pricing.premium_index_e8(symbol),
        "interest_rate_e8": inst.interest_e8,
        "next_funding_ts_ns": m.next_funding_ts,
        "funding_interval_ns": inst.funding_interval_ns,
        "mark_price_ticks": m.mark,
        "index_price_ticks": m.index,
    }


def insurance_view(ex: Exchange) -> dict[str, Any]:
    positions = [{"symbol": p.symbol, "size_lots": p.size, "cost_cash": p.cost}
                 for p in ex.fund.positions.values() if p.size]
    return {"balance_cash": ex.insurance_fund, "seed_cash": ex.insurance_seed,
            "fees_collected_cash": ex.fees_collected, "positions": positions}
