"""Clients of the exchange: the asyncio SDK (clients.sdk) and the agents built on it."""

from .results import AccountKey, Balance, Liquidation, Market, Order, OrderBook, Position, Ticker, Trade
from .sdk import Client, ExchangeError

__all__ = ["AccountKey", "Balance", "Client", "ExchangeError", "Liquidation", "Market", "Order", "OrderBook",
           "Position", "Ticker", "Trade"]
