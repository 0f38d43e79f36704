"""The read-only queries of the gateway (account, positions, orders, book, market data): functions of
the server, run in the sequencer in order with the connection's commands, never journaled."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from ..core import views
from ..wire import schema
from ..wire.codec import Encoded, encode
from ..wire.schema import WireError, param, symbol_field, to_wire

if TYPE_CHECKING:
    from ..core import Exchange
    from .clock import Clock
    from .hub import Hub


class Server(Protocol):
    """What a query reads of the gateway server (server.py; a Protocol, so this module needs no import of it)."""

    ex: Exchange
    hub: Hub
    clock: Clock
    book_answers: dict[tuple[str, int | None], tuple[int, Encoded]]


def q_account(server: Server, account: int, msg: dict) -> Any:
    view = views.account_view(server.ex, account)
    if view is None:
        raise WireError("UNKNOWN_ACCOUNT", f"unknown account {account}")
    answer = to_wire(view, None)
    answer["collateral"] = [{"asset": c["asset"], "balance": str(Decimal(c["units"]).scaleb(-c["decimals"])),
                             "withdrawable": str(Decimal(c["withdrawable_units"]).scaleb(-c["decimals"])),
                             **to_wire({"value_cash": c["value_cash"]}, None)}
                            for c in views.collateral_view(server.ex, account)]
    return answer


def q_positions(server: Server, account: int, msg: dict) -> Any:
    symbol = symbol_field(msg, server.ex.instruments).symbol if msg.get("symbol") is not None else None
    rows = views.positions_view(server.ex, account, symbol)
    if rows is None:
        raise WireError("UNKNOWN_ACCOUNT", f"unknown account {account}")
    return [to_wire(r, server.ex.instruments[r["symbol"]]) for r in rows]


def q_open_orders(server: Server, account: int, msg: dict) -> Any:
    symbol = symbol_field(msg, server.ex.instruments).symbol if msg.get("symbol") is not None else None
    rows = views.open_orders_view(server.ex, account, symbol) or []
    return [to_wire(r, server.ex.instruments[r["symbol"]]) for r in rows]


def q_order(server: Server, account: int, msg: dict) -> Any:
    oid = param(msg, "order_id")
    order = views.open_order(server.ex, account, oid)
    if order is not None:
        return to_wire(views.order_view(order), server.ex.instruments[order.symbol])
    closed = server.hub.closed_orders.get(oid)
    if closed is None or closed[0] != account:
        raise WireError("UNKNOWN_ORDER", f"no order {oid} of account {account} is open or recently closed")
    return {"order_id": oid, "status": closed[1]}


def q_book(server: Server, account: int, msg: dict) -> Any:
    """The book view, built and encoded once per state of the exchange (a flood of book queries
    costs one)."""
    inst = symbol_field(msg, server.ex.instruments)
    depth = param(msg, "depth", None)
    key = (inst.symbol, depth)
    cached = server.book_answers.get(key)
    if cached is not None and cached[0] == server.ex.seq:
        return cached[1]
    view = views.book_view(server.ex, inst.symbol, depth)
    answer = Encoded(encode({"symbol": inst.symbol, "seq": server.hub.book_seq[inst.symbol],
                             "bids": schema.levels_to_wire(view["bids"], inst),
                             "asks": schema.levels_to_wire(view["asks"], inst)}))
    if len(server.book_answers) > 1000:
        server.book_answers.clear()
    server.book_answers[key] = (server.ex.seq, answer)
    return answer


def q_instruments(server: Server, account: int, msg: dict) -> Any:
    return [to_wire(views.instrument_view(server.ex, s), i) for s, i in server.ex.instruments.items()]


def q_ticker(server: Server, account: int, msg: dict) -> Any:
    inst = symbol_field(msg, server.ex.instruments)
    return to_wire(views.ticker_view(server.ex, inst.symbol), inst)


def q_funding(server: Server, account: int, msg: dict) -> Any:
    inst = symbol_field(msg, server.ex.instruments)
    return to_wire(views.funding_view(server.ex, inst.symbol), inst)


def q_insurance_fund(server: Server, account: int, msg: dict) -> Any:
    return to_wire(views.insurance_view(server.ex), None)


def q_time(server: Server, account: int, msg: dict) -> Any:
    return {"time_ns": server.clock.now_ns(), "exchange_ts_ns": server.ex.ts_ns, "seq": server.ex.seq}


QUERIES: dict[str, Any] = {op: globals()[f"q_{op}"] for op in schema.QUERY_OPS}
