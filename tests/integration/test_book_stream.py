"""Streams are consistent with queries: a client applying the book updates holds the same book as a
fresh snapshot, after seeded random traffic from several clients (limits, cancels, amends, markets)."""

from __future__ import annotations

import random

from loopback import SYMBOL, admin_client, close_all, funded_clients, run, service

from clients.sdk import ExchangeError


async def random_traffic(clients, rng: random.Random, n: int) -> int:
    """n random requests; returns how many were accepted."""
    accepted = 0
    open_ids: list[tuple[int, int]] = []  # (client index, order id)
    for _ in range(n):
        i = rng.randrange(len(clients))
        c = clients[i]
        r = rng.random()
        try:
            if r < 0.55 or not open_ids:
                side = rng.choice(("buy", "sell"))
                offset = rng.randint(-3, 25) * (-1 if side == "buy" else 1)
                price = f"{30000 + offset * 0.5:.1f}"
                o = await c.create_order(SYMBOL, "limit", side, f"{rng.randint(1, 40) / 1000:.3f}", price)
                if o.status in ("NEW", "PARTIALLY_FILLED"):
                    open_ids.append((i, o.id))
            elif r < 0.75:
                j, oid = open_ids.pop(rng.randrange(len(open_ids)))
                await clients[j].cancel_order(oid, SYMBOL)
            elif r < 0.9:
                j, oid = open_ids[rng.randrange(len(open_ids))]
                side = rng.choice(("buy", "sell"))
                await clients[j].edit_order(oid, SYMBOL, amount=f"{rng.randint(1, 40) / 1000:.3f}",
                                            price=f"{30000 + rng.randint(-20, 20) * 0.5:.1f}")
            else:
                await c.create_order(SYMBOL, "market", rng.choice(("buy", "sell")), f"{rng.randint(1, 60) / 1000:.3f}")
            accepted += 1
        except ExchangeError:
            pass
    return accepted


def test_applied_book_updates_equal_a_fresh_snapshot(tmp_path):
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            traders = await funded_clients(svc, admin, 4, deposit="1000000")
            (watcher,) = await funded_clients(svc, admin, 1)
            first = await watcher.subscribe("book", SYMBOL)
            assert first["bids"] == [] and first["asks"] == []
            accepted = await random_traffic(traders, random.Random(20261124), 400)
            assert accepted > 300
            await watcher.fetch_time()  # answered after every earlier update reached this socket
            local = watcher.books[SYMBOL].view(SYMBOL)
            fresh = await watcher.fetch_order_book(SYMBOL)
            assert local.seq == fresh.seq > 100
            assert local.bids == fresh.bids and local.asks == fresh.asks
            assert len(fresh.bids) + len(fresh.asks) > 10
            assert not svc.exchange.check_invariants()
            await close_all(watcher, *traders, admin)
    run(scenario())
