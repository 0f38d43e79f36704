"""Core views and history records -> the JSON shapes of Binance USDⓈ-M futures REST answers.

Decimals are strings, times are milliseconds, and computed prices that fall between ticks (entry,
break-even) are shown to 8 decimals, rounded half-even. A liquidation price is shown on the tick
at which the mark triggers it: a long is liquidated when mark <= floor(LP), a short when
mark >= ceil(LP), so the shown price is exactly the first mark that liquidates.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from ....core.instruments import Instrument
from ....core.money import CASH_DECIMALS
from ..history import OrderRecord
from .params import TIFS

QUOTE = "USDT"
EIGHT = Decimal("0.00000001")


def px(ticks: int, inst: Instrument) -> str:
    return str(ticks * inst.tick_size)


def px_fraction(value: Fraction | None, inst: Instrument) -> str:
    if value is None:
        return "0"
    return str((Decimal(value.numerator) * inst.tick_size / Decimal(value.denominator)).quantize(EIGHT))


def qty(lots: int, inst: Instrument) -> str:
    return str(lots * inst.lot_step)


def cash(units: int) -> str:
    return f"{Decimal(units).scaleb(-CASH_DECIMALS):f}"


def rate_e8(value: int) -> str:
    return f"{Decimal(value).scaleb(-8):f}"


def rate_ppm(value: int) -> str:
    return f"{Decimal(value).scaleb(-6):f}"


def liquidation_tick(lp: Fraction | None, size: int) -> int:
    """The mark (ticks) at and beyond which the position is liquidated: floor for a long, ceil for a short."""
    if lp is None or not size:
        return 0
    return lp.numerator // lp.denominator if size > 0 else -((-lp.numerator) // lp.denominator)


def side_name(side: int) -> str:
    return "BUY" if side > 0 else "SELL"


def base_asset(symbol: str) -> str:
    return symbol[: -len(QUOTE)] if symbol.endswith(QUOTE) and len(symbol) > len(QUOTE) else symbol


def decimals(step: Decimal) -> int:
    return max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]


# -- market data ---------------------------------------------------------------------------------
def symbol_info(inst: Instrument) -> dict[str, Any]:
    band = Decimal(inst.price_band_ppm).scaleb(-6)
    return {
        "symbol": inst.symbol, "pair": inst.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000, "status": "TRADING",
        "maintMarginPercent": rate_ppm(inst.brackets[0].mmr_ppm * 100), "requiredMarginPercent": f"{Decimal(100) / inst.max_leverage:f}",
        "baseAsset": base_asset(inst.symbol), "quoteAsset": QUOTE, "marginAsset": QUOTE,
        "pricePrecision": decimals(inst.tick_size), "quantityPrecision": decimals(inst.lot_step),
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [],
        "settlePlan": 0, "triggerProtect": "0.0500", "liquidationFee": rate_ppm(inst.liquidation_fee_ppm),
        "marketTakeBound": rate_ppm(inst.market_band_ppm), "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": px(inst.min_price_ticks, inst),
             "maxPrice": px(inst.max_price_ticks, inst), "tickSize": str(inst.tick_size)},
            {"filterType": "LOT_SIZE", "stepSize": str(inst.lot_step), "minQty": qty(inst.min_qty_lots, inst),
             "maxQty": qty(inst.max_qty_lots, inst)},
            {"filterType": "MARKET_LOT_SIZE", "stepSize": str(inst.lot_step),
             "minQty": qty(inst.market_min_qty_lots, inst), "maxQty": qty(inst.market_max_qty_lots, inst)},
            {"filterType": "MAX_NUM_ORDERS", "limit": inst.max_open_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": inst.max_open_orders},
            {"filterType": "MIN_NOTIONAL", "notional": cash(inst.min_notional_cash)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": f"{1 + band:.4f}", "multiplierDown": f"{1 - band:.4f}",
             "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
        "timeInForce": list(TIFS),
    }


def exchange_info(instruments: dict[str, Instrument], server_ms: int, rate_limit_per_minute: int) -> dict[str, Any]:
    return {
        "timezone": "UTC", "serverTime": server_ms, "futuresType": "U_MARGINED",
        "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                        "limit": rate_limit_per_minute},
                       {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": rate_limit_per_minute}],
        "exchangeFilters": [],
        "assets": [{"asset": QUOTE, "marginAvailable": True, "autoAssetExchange": "0"}],
        "symbols": [symbol_info(inst) for inst in instruments.values()],
    }


def levels(rows: list[tuple[int, int]], inst: Instrument) -> list[list[str]]:
    return [[px(p, inst), qty(q, inst)] for p, q in rows]


def depth(bids: list[tuple[int, int]], asks: list[tuple[int, int]], inst: Instrument, last_update_id: int,
          ms: int) -> dict[str, Any]:
    return {"lastUpdateId": last_update_id, "E": ms, "T": ms, "bids": levels(bids, inst), "asks": levels(asks, inst)}


def trade(t: Any, inst: Instrument) -> dict[str, Any]:
    """A PublicTrade of the history as /fapi/v1/trades shows it."""
    return {"id": t.trade_id, "price": px(t.price, inst), "qty": qty(t.qty, inst),
            "quoteQty": str(t.qty * t.price * inst.tick_size * inst.lot_step), "time": t.time_ms,
            "isBuyerMaker": t.taker_side < 0}


def aggregate(trades: list[Any]) -> list[list[Any]]:
    """Consecutive trades of one taker order at one price -> [first, ..., last] groups (an aggTrade each)."""
    groups: list[list[Any]] = []
    for t in trades:
        last = groups[-1][-1] if groups else None
        if last is not None and last.taker_order_id == t.taker_order_id and last.price == t.price \
                and last.time_ms == t.time_ms and last.trade_id + 1 == t.trade_id:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


def agg_trade(group: list[Any], inst: Instrument) -> dict[str, Any]:
    """One aggregate trade; its id `a` is its first trade's id (unique, increasing, stable over restarts)."""
    first, last = group[0], group[-1]
    return {"a": first.trade_id, "p": px(first.price, inst), "q": qty(sum(t.qty for t in group), inst),
            "f": first.trade_id, "l": last.trade_id, "T": first.time_ms, "m": first.taker_side < 0}


def kline_row(c: list[int], interval_ms: int, inst: Instrument) -> list[Any]:
    """[open time, o, h, l, c, volume, close time, quote volume, trades, taker buy volume, taker buy quote, "0"]."""
    k = inst.tick_size * inst.lot_step
    return [c[0], px(c[1], inst), px(c[2], inst), px(c[3], inst), px(c[4], inst), qty(c[5], inst),
            c[0] + interval_ms - 1, str(c[6] * k), c[7], qty(c[8], inst), str(c[9] * k), "0"]


def premium_index(view: dict[str, Any], inst: Instrument, ms: int) -> dict[str, Any]:
    """From core views.funding_view. lastFundingRate is the last settled rate (see docs)."""
    return {"symbol": inst.symbol, "markPrice": px(view["mark_price_ticks"], inst),
            "indexPrice": px(view["index_price_ticks"], inst), "estimatedSettlePrice": px(view["index_price_ticks"], inst),
            "lastFundingRate": rate_e8(view["funding_rate_e8"]), "interestRate": rate_e8(view["interest_rate_e8"]),
            "nextFundingTime": view["next_funding_ts_ns"] // 1_000_000, "time": ms}


def funding_rate(row: tuple[int, int, int], inst: Instrument) -> dict[str, Any]:
    ts_ms, rate, mark = row
    return {"symbol": inst.symbol, "fundingRate": rate_e8(rate), "fundingTime": ts_ms, "markPrice": px(mark, inst)}


def ticker_24hr(candles: list[list[int]], last: Any, inst: Instrument, now_ms: int) -> dict[str, Any]:
    """From the one-minute candles of the last 24 hours and the last trade (None if none)."""
    k = inst.tick_size * inst.lot_step
    open_time = now_ms - 86_400_000
    if candles:
        o, c = candles[0][1], candles[-1][4]
        hi, lo = max(x[2] for x in candles), min(x[3] for x in candles)
        vol, value, count = sum(x[5] for x in candles), sum(x[6] for x in candles), sum(x[7] for x in candles)
        change = c - o
        pct = (Decimal(change) * 100 / Decimal(o)).quantize(Decimal("0.001"))
        wavg = (Decimal(value) / Decimal(vol) * inst.tick_size).quantize(inst.tick_size) if vol else Decimal(0)
    else:
        o = c = hi = lo = vol = value = count = change = 0
        pct, wavg = Decimal("0.000"), Decimal(0)
    return {"symbol": inst.symbol, "priceChange": px(change, inst), "priceChangePercent": str(pct),
            "weightedAvgPrice": str(wavg), "lastPrice": px(last.price, inst) if last else px(0, inst),
            "lastQty": qty(last.qty, inst) if last else qty(0, inst), "openPrice": px(o, inst), "highPrice": px(hi, inst),
            "lowPrice": px(lo, inst), "volume": qty(vol, inst), "quoteVolume": str(value * k), "openTime": open_time,
            "closeTime": now_ms, "firstId": -1, "lastId": last.trade_id if last else -1, "count": count}


def book_ticker(ticker: dict[str, Any], bid_qty: int, ask_qty: int, inst: Instrument, update_id: int,
                ms: int) -> dict[str, Any]:
    return {"symbol": inst.symbol, "bidPrice": px(ticker["best_bid_ticks"], inst), "bidQty": qty(bid_qty, inst),
            "askPrice": px(ticker["best_ask_ticks"], inst), "askQty": qty(ask_qty, inst), "time": ms,
            "lastUpdateId": update_id}


# -- orders --------------------------------------------------------------------------------------
def avg_price(rec: OrderRecord, inst: Instrument) -> str:
    return px_fraction(Fraction(rec.value, rec.filled), inst) if rec.filled else "0"


def cum_quote(rec: OrderRecord, inst: Instrument) -> str:
    return str(rec.value * inst.tick_size * inst.lot_step)


def order(rec: OrderRecord, inst: Instrument) -> dict[str, Any]:
    """An order as GET/POST/DELETE /fapi/v1/order answer it."""
    kind = "MARKET" if rec.type == "LIQUIDATION" else rec.type
    return {
        "orderId": rec.order_id, "symbol": rec.symbol, "status": rec.status, "clientOrderId": rec.client_id,
        "price": px(rec.price, inst), "avgPrice": avg_price(rec, inst), "origQty": qty(rec.qty, inst),
        "executedQty": qty(rec.filled, inst), "cumQty": qty(rec.filled, inst), "cumQuote": cum_quote(rec, inst),
        "timeInForce": rec.tif, "type": kind, "reduceOnly": rec.reduce_only, "closePosition": False,
        "side": side_name(rec.side), "positionSide": "BOTH", "stopPrice": px(rec.stop, inst),
        "workingType": rec.working_type, "priceProtect": False, "origType": rec.type if rec.type != "LIQUIDATION" else kind,
        "priceMatch": "NONE", "selfTradePreventionMode": rec.stp, "goodTillDate": 0, "time": rec.time_ms,
        "updateTime": rec.update_ms,
    }


def algo_status(status: str, triggered: bool, reason: str = "") -> str:
    """Binance's algoStatus of a conditional order in the given order status."""
    if reason.startswith("TRIGGER_REJECTED"):
        return "REJECTED"
    if not triggered:
        return status if status in ("CANCELED", "EXPIRED") else "NEW"
    return "FINISHED" if status in ("FILLED", "CANCELED", "EXPIRED") else "TRIGGERED"


def algo_order(rec: OrderRecord, inst: Instrument) -> dict[str, Any]:
    """A conditional order as the algo order endpoints (/fapi/v1/algoOrder) answer it."""
    return {
        "algoId": rec.order_id, "clientAlgoId": rec.client_id, "algoType": "CONDITIONAL", "orderType": rec.type,
        "symbol": rec.symbol, "side": side_name(rec.side), "positionSide": "BOTH", "timeInForce": rec.tif,
        "quantity": qty(rec.qty, inst), "algoStatus": algo_status(rec.status, rec.triggered, rec.reason), "triggerPrice": px(rec.stop, inst),
        "price": px(rec.price, inst), "icebergQuantity": None, "selfTradePreventionMode": rec.stp,
        "workingType": rec.working_type, "priceMatch": "NONE", "closePosition": False, "priceProtect": False,
        "reduceOnly": rec.reduce_only, "activatePrice": "", "callbackRate": "", "createTime": rec.time_ms,
        "updateTime": rec.update_ms, "triggerTime": rec.update_ms if rec.triggered else 0, "goodTillDate": 0,
        "actualOrderId": str(rec.order_id) if rec.triggered else "", "executedQty": qty(rec.filled, inst),
        "actualPrice": avg_price(rec, inst),
    }


def user_trade(f: Any, inst: Instrument) -> dict[str, Any]:
    return {"buyer": f.side > 0, "commission": cash(f.fee), "commissionAsset": QUOTE, "id": f.trade_id,
            "maker": f.maker, "orderId": f.order_id, "price": px(f.price, inst), "qty": qty(f.qty, inst),
            "quoteQty": str(f.qty * f.price * inst.tick_size * inst.lot_step), "realizedPnl": cash(f.realized),
            "side": side_name(f.side), "positionSide": "BOTH", "symbol": f.symbol, "time": f.time_ms}


def income(row: Any) -> dict[str, Any]:
    return {"symbol": row.symbol, "incomeType": row.kind, "income": cash(row.amount_cash), "asset": QUOTE,
            "info": row.kind, "time": row.time_ms, "tranId": row.tran_id, "tradeId": str(row.trade_id) if row.trade_id else ""}


# -- account -------------------------------------------------------------------------------------
def max_notional(inst: Instrument, leverage: int) -> int:
    """Cap (cash) of the largest bracket that allows the leverage."""
    return max((b.cap_cash for b in inst.brackets if b.max_leverage >= leverage), default=0)


def position_risk(p: dict[str, Any], inst: Instrument, ms: int) -> dict[str, Any]:
    """From core views.position_view: /fapi/v2/positionRisk (and /v3, which adds margins)."""
    size = p["size_lots"]
    entry = px_fraction(p["entry_price_ticks"], inst) if size else "0.0"
    isolated = p["mode"] == "ISOLATED"
    iso_margin = p["isolated_wallet_cash"] + p["unrealized_pnl_cash"] if isolated and size else 0
    return {
        "symbol": p["symbol"], "positionAmt": qty(size, inst), "entryPrice": entry, "breakEvenPrice": entry,
        "markPrice": px(p["mark_price_ticks"], inst), "unRealizedProfit": cash(p["unrealized_pnl_cash"]),
        "liquidationPrice": px(liquidation_tick(p["liquidation_price_ticks"], size), inst),
        "leverage": str(p["leverage"]), "maxNotionalValue": cash(max_notional(inst, p["leverage"])),
        "marginType": "isolated" if isolated else "cross", "isolatedMargin": cash(iso_margin),
        "isAutoAddMargin": "true" if p["auto_add_margin"] else "false", "positionSide": "BOTH",
        "notional": cash(p["notional_cash"] if size > 0 else -p["notional_cash"]),
        "isolatedWallet": cash(p["isolated_wallet_cash"] if isolated else 0), "updateTime": ms,
        "marginAsset": QUOTE, "initialMargin": cash(p["initial_margin_cash"]), "maintMargin": cash(p["maint_margin_cash"]),
        "positionInitialMargin": cash(p["initial_margin_cash"]), "openOrderInitialMargin": "0",
        "adl": p["adl_quantile"], "bidNotional": "0", "askNotional": "0",
    }


def account_totals(acct: dict[str, Any], positions: list[dict[str, Any]]) -> dict[str, int]:
    """Binance's account totals (cash units) from core views.account_view and views.positions_view."""
    iso_im = sum(p["initial_margin_cash"] for p in positions if p["mode"] == "ISOLATED" and p["size_lots"])
    iso_mm = sum(p["maint_margin_cash"] for p in positions if p["mode"] == "ISOLATED" and p["size_lots"])
    pos_im = acct["initial_margin_cash"] + iso_im
    return {
        "wallet": acct["wallet_cash"], "upnl": acct["unrealized_pnl_cash"],
        "margin_balance": acct["wallet_cash"] + acct["unrealized_pnl_cash"],
        "position_im": pos_im, "order_im": acct["order_margin_cash"], "im": pos_im + acct["order_margin_cash"],
        "mm": acct["maint_margin_cash"] + iso_mm, "cross_wallet": acct["cross_wallet_cash"],
        "cross_upnl": acct["cross_unrealized_pnl_cash"], "available": max(0, acct["available_cash"]),
        "max_withdraw": max(0, acct["free_cash"]), "collateral": acct["collateral_value_cash"],
    }


def collateral_rows(held: list[dict[str, Any]], ms: int) -> list[dict[str, Any]]:
    """The collateral assets of an account (views.collateral_view) as Binance's multi-assets rows: balances
    in the asset's own units; what they count as margin is in the account's totals."""
    rows = []
    for c in held:
        units = str(Decimal(c["units"]).scaleb(-c["decimals"]))
        rows.append({"asset": c["asset"], "walletBalance": units, "unrealizedProfit": "0", "marginBalance": units,
                     "maintMargin": "0", "initialMargin": "0", "positionInitialMargin": "0",
                     "openOrderInitialMargin": "0", "crossWalletBalance": units, "crossUnPnl": "0",
                     "availableBalance": units,
                     "maxWithdrawAmount": str(Decimal(c["withdrawable_units"]).scaleb(-c["decimals"])),
                     "marginAvailable": True, "updateTime": ms, "collateralValue": cash(c["value_cash"])})
    return rows


def account(acct: dict[str, Any], positions: list[dict[str, Any]], held: list[dict[str, Any]],
            instruments: dict[str, Instrument], ms: int, v3: bool = False) -> dict[str, Any]:
    """GET /fapi/v2/account (v3: positions with a size only, fewer fields); `held`: views.collateral_view."""
    t = account_totals(acct, positions)
    asset = {"asset": QUOTE, "walletBalance": cash(t["wallet"]), "unrealizedProfit": cash(t["upnl"]),
             "marginBalance": cash(t["margin_balance"]), "maintMargin": cash(t["mm"]), "initialMargin": cash(t["im"]),
             "positionInitialMargin": cash(t["position_im"]), "openOrderInitialMargin": cash(t["order_im"]),
             "crossWalletBalance": cash(t["cross_wallet"]), "crossUnPnl": cash(t["cross_upnl"]),
             "availableBalance": cash(t["available"]), "maxWithdrawAmount": cash(t["max_withdraw"]),
             "marginAvailable": True, "updateTime": ms}
    rows = []
    for p in positions:
        if v3 and not p["size_lots"]:
            continue
        r = position_risk(p, instruments[p["symbol"]], ms)
        row = {"symbol": r["symbol"], "positionSide": "BOTH", "positionAmt": r["positionAmt"],
               "unrealizedProfit": r["unRealizedProfit"], "isolatedMargin": r["isolatedMargin"], "notional": r["notional"],
               "isolatedWallet": r["isolatedWallet"], "initialMargin": r["initialMargin"],
               "maintMargin": r["maintMargin"], "updateTime": ms}
        if not v3:
            row.update(positionInitialMargin=r["initialMargin"], openOrderInitialMargin="0", leverage=r["leverage"],
                       isolated=p["mode"] == "ISOLATED", entryPrice=r["entryPrice"],
                       breakEvenPrice=r["breakEvenPrice"], maxNotional=r["maxNotionalValue"], bidNotional="0",
                       askNotional="0")
        rows.append(row)
    return {
        "feeTier": 0, "feeBurn": False, "canTrade": True, "canDeposit": True, "canWithdraw": True, "updateTime": 0,
        "multiAssetsMargin": bool(held), "tradeGroupId": -1,
        "totalInitialMargin": cash(t["im"]), "totalMaintMargin": cash(t["mm"]),
        "totalWalletBalance": cash(t["wallet"] + t["collateral"]),  # in multi-assets mode: USDT + collateral value
        "totalUnrealizedProfit": cash(t["upnl"]), "totalMarginBalance": cash(t["margin_balance"] + t["collateral"]),
        "totalPositionInitialMargin": cash(t["position_im"]), "totalOpenOrderInitialMargin": cash(t["order_im"]),
        "totalCrossWalletBalance": cash(t["cross_wallet"] + t["collateral"]), "totalCrossUnPnl": cash(t["cross_upnl"]),
        "availableBalance": cash(t["available"]), "maxWithdrawAmount": cash(t["max_withdraw"]),
        "assets": [asset, *collateral_rows(held, ms)], "positions": rows,
    }


def balance(acct: dict[str, Any], positions: list[dict[str, Any]], held: list[dict[str, Any]],
            ms: int) -> list[dict[str, Any]]:
    t = account_totals(acct, positions)
    alias = f"lq{acct['account']}"
    return [{"accountAlias": alias, "asset": QUOTE, "balance": cash(t["wallet"]),
             "crossWalletBalance": cash(t["cross_wallet"]), "crossUnPnl": cash(t["cross_upnl"]),
             "availableBalance": cash(t["available"]), "maxWithdrawAmount": cash(t["max_withdraw"]),
             "marginAvailable": True, "updateTime": ms},
            *({"accountAlias": alias, "asset": r["asset"], "balance": r["walletBalance"],
               "crossWalletBalance": r["crossWalletBalance"], "crossUnPnl": "0",
               "availableBalance": r["availableBalance"], "maxWithdrawAmount": r["maxWithdrawAmount"],
               "marginAvailable": True, "updateTime": ms} for r in collateral_rows(held, ms))]


def leverage_bracket(inst: Instrument) -> dict[str, Any]:
    """Binance answers this one with JSON numbers."""
    return {"symbol": inst.symbol, "notionalCoef": 1.0, "brackets": [
        {"bracket": i + 1, "initialLeverage": b.max_leverage, "notionalCap": _number(b.cap_cash),
         "notionalFloor": _number(b.floor_cash), "maintMarginRatio": float(Decimal(b.mmr_ppm).scaleb(-6)),
         "cum": float(Decimal(b.cum_cash).scaleb(-CASH_DECIMALS))}
        for i, b in enumerate(inst.brackets)]}


def _number(units: int) -> int | float:
    value = Decimal(units).scaleb(-CASH_DECIMALS)
    return int(value) if value == value.to_integral_value() else float(value)


def commission_rate(inst: Instrument) -> dict[str, Any]:
    return {"symbol": inst.symbol, "makerCommissionRate": rate_ppm(inst.maker_fee_ppm),
            "takerCommissionRate": rate_ppm(inst.taker_fee_ppm)}


def adl_quantile(p: dict[str, Any]) -> dict[str, Any]:
    q = p["adl_quantile"]
    size = p["size_lots"]
    return {"symbol": p["symbol"], "adlQuantile": {"LONG": q if size > 0 else 0, "SHORT": q if size < 0 else 0,
                                                   "BOTH": q}}
