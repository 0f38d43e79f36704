"""The gateway: routes each request of a session to the sequencer (commands, queries), the hub
(subscriptions) or the admin operations, and turns the resulting events into exactly one answer.
It also admits connections (a cap below the descriptor limit), throttles failed logins per peer host,
and keeps one budget for the unsent output of all connections together."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..core import views
from ..core.commands import (
    CreateAccount,
    Deposit,
    DepositAsset,
    IndexPrice,
    SetBrackets,
    SetInstrumentParam,
    SetTradingHalted,
    Withdraw,
    WithdrawAsset,
)
from ..core.engine import Exchange
from ..core.events import (
    AccountCreated,
    BalanceChanged,
    BracketsChanged,
    CollateralChanged,
    InstrumentChanged,
    MarkPriceUpdated,
    TradingHalted,
)
from ..persistence import SNAPSHOTS_KEPT, write_snapshot
from ..sim.feed import IndexFeed
from ..wire import schema
from ..wire.codec import Encoded
from ..wire.schema import (
    ADMIN_OPS,
    COMMAND_OPS,
    PROTOCOL_VERSION,
    PUBLIC_CHANNELS_WITH_SYMBOL,
    WireError,
    asset_units,
    brackets_field,
    int_field,
    param,
    price_str,
    show,
    symbol_field,
    to_wire,
)
from .answers import COMMAND_ANSWERS, Answer, expect
from .clock import Clock
from .faults import describe
from .hub import Hub
from .limits import Limits, LoginThrottle
from .queries import QUERIES
from .sequencer import Sequencer
from .session import Session

__all__ = ["KeyStore", "Limits", "Server"]

SERVER_NAME = "liquidex"


class KeyStore:
    """API keys (kept as sha256 digests) -> account: an append-only file of "digest account" lines in
    the run directory, flushed to the OS before the key is handed out (as durable as the journal)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.accounts: dict[str, int] = {}
        text = path.read_text() if path.exists() else ""
        if not text.endswith("\n"):  # cut a line torn by a crash before appending after it
            text = text[: text.rfind("\n") + 1]
            path.write_text(text)
        for line in text.splitlines():
            digest, _, account = line.partition(" ")
            self.accounts[digest] = int(account)
        self._fh = open(path, "a")  # noqa: SIM115 - held open for the life of the store

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def issue(self, account: int) -> str:
        key = "lk_" + secrets.token_hex(16)
        digest = self._digest(key)
        self._fh.write(f"{digest} {account}\n")
        self._fh.flush()
        self.accounts[digest] = account
        return key

    def account_for(self, key: str) -> int | None:
        return self.accounts.get(self._digest(key))

    def close(self) -> None:
        self._fh.close()


class Server:
    def __init__(self, exchange: Exchange, sequencer: Sequencer, hub: Hub, keys: KeyStore, clock: Clock,
                 drivers: dict[str, IndexFeed], admin_key: str, run_dir: Path, limits: Limits, log: Any,
                 snapshots_kept: int = SNAPSHOTS_KEPT) -> None:
        self.ex = exchange
        self.sequencer = sequencer
        self.hub = hub
        self.keys = keys
        self.clock = clock
        self.drivers = drivers
        self.admin_key = admin_key
        self.run_dir = run_dir
        self.limits = limits
        self.log = log
        self.snapshots_kept = snapshots_kept
        self.next_account = max(exchange.accounts, default=0) + 1
        self.disconnects: dict[str, int] = {}
        self.max_connections = limits.connection_cap()
        self.connections = 0  # admitted and not yet gone (closing ones included: they hold a descriptor)
        self.refused = 0  # connections refused at the cap
        self.unsent = 0  # bytes written by the exchange and not yet taken by the kernel, all connections
        self.logins = LoginThrottle(limits.login_failure_burst, limits.login_failure_rate, log)
        self.snapshot_error: str | None = None
        self.book_answers: dict[tuple[str, int | None], tuple[int, Encoded]] = {}  # queries.q_book

    # -- connections ---------------------------------------------------------------------------
    def protocol(self) -> Session:
        return Session(self)

    def connected(self, session: Session) -> bool:
        """Admit a new connection, or refuse it (an error frame, then closed) at the cap."""
        if self.connections >= self.max_connections:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                self.log.warning("connection refused", peer=session.peer, reason="TOO_MANY_CONNECTIONS",
                                 connections=self.connections, refused=self.refused)
            session.error(None, "TOO_MANY_CONNECTIONS", f"the server has {self.max_connections} connections: "
                          "try again later")
            session.flush()
            session.close("TOO_MANY_CONNECTIONS")
            return False
        self.connections += 1
        self.hub.sessions.add(session)
        return True

    def disconnected(self, session: Session, admitted: bool) -> None:
        self.connections -= admitted
        self.hub.drop(session)

    def dropped(self, session: Session, reason: str) -> None:
        self.hub.drop(session)
        self.disconnects[reason] = self.disconnects.get(reason, 0) + 1
        if reason != "TOO_MANY_CONNECTIONS":
            self.log.warning("disconnect", peer=session.peer, account=session.account, reason=reason)

    def shed(self) -> None:
        """Unsent output passed max_outbox_total: count every connection's backlog afresh, then drop
        the largest until the total is under 3/4 of the budget."""
        sessions = [x for x in self.hub.sessions if not x.closed]
        for x in sessions:
            x.refresh_backlog()
        target = self.limits.max_outbox_total * 3 // 4
        if self.unsent <= self.limits.max_outbox_total:
            return
        for x in sorted(sessions, key=lambda x: x.out_bytes + x.backlog, reverse=True):
            if self.unsent <= target:
                break
            x.close("SLOW_CONSUMER")

    # -- requests ------------------------------------------------------------------------------
    def handle(self, s: Session, op: str, rid: int, msg: dict) -> None:
        if op == "hello":
            version = param(msg, "version")
            if version != PROTOCOL_VERSION:
                raise WireError("UNSUPPORTED_VERSION", f"protocol version {version} is not supported; "
                                f"this server speaks {PROTOCOL_VERSION}")
            s.said_hello()
            s.result(rid, {"server": SERVER_NAME, "version": PROTOCOL_VERSION, "time_ns": self.clock.now_ns(),
                           "max_frame": self.limits.max_frame, "rate_limit": self.limits.rate})
            return
        if not s.hello:
            raise WireError("HELLO_REQUIRED", "send {op: hello, version: 1} first")
        if op == "login":
            self._login(s, rid, param(msg, "api_key"))
            return
        if op == "ping":
            s.result(rid, {"time_ns": self.clock.now_ns()})
            return
        if self.sequencer.journal_error is not None and op != "unsubscribe":
            raise WireError("JOURNAL_UNAVAILABLE", f"the journal cannot be written ({self.sequencer.journal_error}): "
                            "the exchange serves no request until it can")
        if op in COMMAND_OPS:
            if s.account < 0:
                raise WireError("NOT_LOGGED_IN", f"{op} needs a login with an API key")
            cmd = schema.to_command(op, msg, s.account, self.ex.instruments)
            self._submit(s, rid, cmd, s.origin, COMMAND_ANSWERS[op])
        elif op in schema.QUERY_OPS:
            self._answer(s, rid, QUERIES[op], self, self._query_account(s, op, msg), msg)
        elif op in ("subscribe", "unsubscribe"):
            self._subscription(s, op, rid, msg)
        elif op in ADMIN_OPS:
            if not s.admin:
                raise WireError("FORBIDDEN", f"{op} is an admin operation: log in with the admin key")
            _ADMIN[op](self, s, rid, msg)

    def _answer(self, s: Session, rid: int, fn: Callable, *args: Any) -> None:
        """Send fn(*args) as the result; a failure to build it costs this answer, not the exchange."""
        try:
            s.result(rid, fn(*args))
        except WireError as exc:
            s.error(rid, exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - a bug in a view or an answer: the state itself is fine
            self.sequencer.fault("answer", exc, rid=rid)
            s.error(rid, "INTERNAL", f"internal error: {type(exc).__name__}")

    def _submit(self, s: Session, rid: int, commands: Any, origin: str, answer: Answer) -> None:
        """Apply the commands now (requests are handled inside the sequencer's turn) and answer."""
        self._answer(s, rid, answer, self.ex, commands, self.sequencer.execute(commands, origin))

    def _login(self, s: Session, rid: int, key: str) -> None:
        if not self.logins.allowed(s.host):
            raise WireError("LOGIN_THROTTLED", f"too many failed logins from {s.host}: try again later")
        if self.admin_key and hmac.compare_digest(key.encode(), self.admin_key.encode()):
            s.admin = True
            s.bucket.rate = s.bucket.burst = s.bucket.tokens = float("inf")
            s.logged_in(-1)
            s.result(rid, {"account": None, "admin": True})
            return
        account = self.keys.account_for(key)
        if account is None:
            self.logins.failed(s.host, s.peer)
            raise WireError("AUTH_FAILED", "unknown API key")
        if s.account >= 0 and s.account != account:
            raise WireError("AUTH_FAILED", f"this connection is logged in as account {s.account}")
        s.logged_in(account)
        s.result(rid, {"account": account, "admin": False})

    def _subscription(self, s: Session, op: str, rid: int, msg: dict) -> None:
        channel = param(msg, "channel")
        symbol = symbol_field(msg, self.ex.instruments).symbol if channel in PUBLIC_CHANNELS_WITH_SYMBOL else ""
        if channel == "private" and s.account < 0:
            raise WireError("NOT_LOGGED_IN", "the private channel needs a login with an API key")
        if op == "unsubscribe":
            self.hub.unsubscribe(s, channel, symbol)
            s.result(rid, {"channel": channel, "symbol": symbol or None})
            return
        self._answer(s, rid, lambda: self.hub.subscribe(s, channel, symbol) or {"channel": channel,
                                                                                "symbol": symbol or None})

    def _query_account(self, s: Session, op: str, msg: dict) -> int:
        if op not in ("account", "positions", "open_orders", "order"):
            return -1
        if s.admin:
            return param(msg, "account")
        if s.account < 0:
            raise WireError("NOT_LOGGED_IN", f"{op} needs a login with an API key")
        return s.account

    # -- admin ---------------------------------------------------------------------------------
    def _a_create_account(self, s: Session, rid: int, msg: dict) -> None:
        """One CreateAccount command carries the deposit: a rejection (the id exists, a bad amount) changes
        nothing, and only a created account gets a key."""
        account = int_field(msg, "account", 0, 2**62, None)
        if account is None:
            account = self.next_account
        deposit = 0 if msg.get("deposit") is None else schema.cash_field(msg, "deposit")
        self.next_account = max(self.next_account, account + 1)

        def answer(ex: Exchange, cmd: Any, events: list) -> dict[str, Any]:
            expect(events, account, AccountCreated)
            return {"account": account, "api_key": self.keys.issue(account)}

        self._submit(s, rid, CreateAccount(account, deposit), "admin", answer)

    def _a_create_api_key(self, s: Session, rid: int, msg: dict) -> None:
        account = param(msg, "account")
        if account not in self.ex.accounts:
            raise WireError("UNKNOWN_ACCOUNT", f"unknown account {account}")
        s.result(rid, {"account": account, "api_key": self.keys.issue(account)})

    def _a_cash(self, s: Session, rid: int, msg: dict, kind: type) -> None:
        account = param(msg, "account")
        cmd = kind(account, param(msg, "amount", op=msg["op"]))

        def answer(ex: Exchange, cmd: Any, events: list) -> dict[str, Any]:
            ev = expect(events, account, BalanceChanged)
            return to_wire({"account": account, "cross_wallet_cash": ev.cross_wallet_cash}, None)

        self._submit(s, rid, cmd, "admin", answer)

    def _a_deposit(self, s: Session, rid: int, msg: dict) -> None:
        self._a_cash(s, rid, msg, Deposit)

    def _a_withdraw(self, s: Session, rid: int, msg: dict) -> None:
        self._a_cash(s, rid, msg, Withdraw)

    def _a_set_halted(self, s: Session, rid: int, msg: dict) -> None:
        cmd = SetTradingHalted(param(msg, "halted"))
        self._submit(s, rid, cmd, "admin", lambda ex, c, ev: {"halted": expect(ev, -1, TradingHalted).halted})

    def _a_set_index(self, s: Session, rid: int, msg: dict) -> None:
        inst = symbol_field(msg, self.ex.instruments)
        ticks = param(msg, "price", inst=inst)
        driver = self.drivers.get(inst.symbol)
        if driver is not None:
            driver.set_price(ticks)

        def answer(ex: Exchange, cmd: Any, events: list) -> dict[str, Any]:
            expect(events, -1, MarkPriceUpdated)
            return to_wire(views.ticker_view(self.ex, inst.symbol), inst)

        self._submit(s, rid, IndexPrice(inst.symbol, ticks), "admin", answer)

    def _a_shock_index(self, s: Session, rid: int, msg: dict) -> None:
        inst = symbol_field(msg, self.ex.instruments)
        pct = param(msg, "pct")
        seconds = param(msg, "seconds", Decimal(0))
        if pct == -100:
            raise WireError("INVALID_PARAM", "a shock of -100% would take the index to 0")
        driver = self.drivers.get(inst.symbol)
        if driver is None or driver.base is None:
            raise WireError("NO_INDEX", f"{inst.symbol} has no index feed with a price yet: use set_index")
        driver.shock(float(pct), float(seconds))
        s.result(rid, {"symbol": inst.symbol, "pct": str(pct), "seconds": str(seconds),
                       "from": price_str(self.ex.markets[inst.symbol].index, inst)})

    def _a_set_param(self, s: Session, rid: int, msg: dict) -> None:
        inst = symbol_field(msg, self.ex.instruments)
        cmd = SetInstrumentParam(inst.symbol, param(msg, "name"), param(msg, "value"))

        def answer(ex: Exchange, cmd: Any, events: list) -> dict[str, Any]:
            ev = expect(events, -1, InstrumentChanged)
            return {"symbol": ev.symbol, "name": ev.name, "value": ev.value}

        self._submit(s, rid, cmd, "admin", answer)

    def _a_set_brackets(self, s: Session, rid: int, msg: dict) -> None:
        """Replace an instrument's leverage brackets (its maintenance rates) live."""
        inst = symbol_field(msg, self.ex.instruments)

        def answer(ex: Exchange, cmd: Any, events: list) -> dict[str, Any]:
            rows = expect(events, -1, BracketsChanged).rows
            return {"symbol": inst.symbol, "brackets": [to_wire({"floor_cash": f, "cap_cash": c, "max_leverage": lev,
                                                                  "mmr_ppm": mmr, "cum_cash": cum}, None)
                                                         for f, c, lev, mmr, cum in rows]}

        self._submit(s, rid, SetBrackets(inst.symbol, brackets_field(msg)), "admin", answer)

    def _a_asset(self, s: Session, rid: int, msg: dict, kind: type) -> None:
        account = param(msg, "account")
        name = param(msg, "asset")
        asset = self.ex.collateral.assets.get(name)
        if asset is None:
            raise WireError("INVALID_PARAM", f"asset {show(name)} is not a collateral asset "
                                             f"({', '.join(self.ex.collateral.assets) or 'none configured'})")
        cmd = kind(account, asset.name, asset_units(msg, "amount", asset.decimals))

        def answer(ex: Exchange, cmd: Any, events: list) -> dict[str, Any]:
            ev = expect(events, account, CollateralChanged)
            return {"account": account, "asset": ev.asset, "balance": str(Decimal(ev.units).scaleb(-asset.decimals)),
                    **to_wire({"value_cash": ev.value_cash}, None)}

        self._submit(s, rid, cmd, "admin", answer)

    def _a_deposit_asset(self, s: Session, rid: int, msg: dict) -> None:
        self._a_asset(s, rid, msg, DepositAsset)

    def _a_withdraw_asset(self, s: Session, rid: int, msg: dict) -> None:
        self._a_asset(s, rid, msg, WithdrawAsset)

    def _a_snapshot(self, s: Session, rid: int, msg: dict) -> None:
        self._answer(s, rid, self.take_snapshot)

    def take_snapshot(self) -> dict[str, Any]:
        """Write a snapshot (in the sequencer, after the journal is on disk: a snapshot must never be
        ahead of it); SNAPSHOT_FAILED when the disk or the descriptors say no. A failure is logged when a
        streak of them starts, and when it ends."""
        error = self.sequencer.flush_journal(sync=True)
        if error is not None:
            raise WireError("JOURNAL_UNAVAILABLE", f"the journal cannot be written ({error}): no snapshot")
        try:
            path = write_snapshot(self.run_dir, self.ex, self.snapshots_kept)
        except OSError as exc:
            if self.snapshot_error is None:
                self.log.error("snapshot failed", error=describe(exc), errno=exc.errno, seq=self.ex.seq)
            self.snapshot_error = describe(exc)
            raise WireError("SNAPSHOT_FAILED", f"no snapshot written: {self.snapshot_error}") from None
        if self.snapshot_error is not None:
            self.log.warning("snapshot recovered", seq=self.ex.seq, path=str(path))
            self.snapshot_error = None
        return {"seq": self.ex.seq, "path": str(path)}

    def _a_state_hash(self, s: Session, rid: int, msg: dict) -> None:
        self._answer(s, rid, lambda: {"seq": self.ex.seq, "state_hash": self.ex.state_hash()})


_ADMIN: dict[str, Callable] = {op: getattr(Server, f"_a_{op}") for op in ADMIN_OPS}
