"""API key + secret pairs. The key is issued by the gateway's KeyStore, so the msgpack `login` with it
works for the same account; the secret (for signing HTTP requests) is kept in RUN_DIR/api_secrets,
readable by the server's user only (0600), one "sha256(key) account secret" line per pair, flushed and
fsynced before the pair is handed out. A secret is shown once, in the answer that creates it; it is
never logged nor journaled."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from .server import KeyStore

SECRET_FILE = "api_secrets"


class Credentials:
    def __init__(self, path: Path, keys: KeyStore) -> None:
        self.path = path
        self.keys = keys
        self.secrets: dict[str, tuple[int, str]] = {}
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        self._fh = os.fdopen(fd, "a+")
        self._fh.seek(0)
        text = self._fh.read()
        whole = text[: text.rfind("\n") + 1]
        if whole != text:  # a line torn by a crash: cut it before appending after it
            self._fh.truncate(len(whole.encode()))
        for line in whole.splitlines():
            digest, account, secret = line.split(" ")
            self.secrets[digest] = (int(account), secret)

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def issue(self, account: int) -> tuple[str, str]:
        """A new (api key, secret) for the account: the key logs in over msgpack too."""
        key = self.keys.issue(account)
        secret = secrets.token_hex(32)
        digest = self._digest(key)
        self._fh.write(f"{digest} {account} {secret}\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.secrets[digest] = (account, secret)
        return key, secret

    def lookup(self, key: str) -> tuple[int, str | None] | None:
        """(account, secret) of an API key; the secret is None for a key issued without one (msgpack admin)."""
        digest = self._digest(key)
        found = self.secrets.get(digest)
        if found is not None:
            return found
        account = self.keys.accounts.get(digest)
        return None if account is None else (account, None)

    def close(self) -> None:
        self._fh.close()
