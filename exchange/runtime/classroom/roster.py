"""Students, their teams and their logins.

A login is a short random code (8 letters and digits of an alphabet without look-alikes, as
`xxxx-xxxx`: 40 bits); a student's browser sends it with every request. The game journal holds only
its sha256; the codes themselves are kept in RUN_DIR/game_logins, readable by the server's user only
(0600), so the teacher can print them again after a restart.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
LOGIN_TEXT = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}$")
LOGINS_FILE = "game_logins"


def new_login() -> str:
    code = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def digest(login: str) -> str:
    return hashlib.sha256(login.encode()).hexdigest()


@dataclass(slots=True)
class Student:
    id: int
    name: str
    team: str
    account: int
    login_sha256: str
    login: str = ""  # the code itself, when known (this run made it, or the logins file has it)


class Roster:
    def __init__(self) -> None:
        self.students: dict[int, Student] = {}
        self.by_digest: dict[str, Student] = {}
        self.by_account: dict[int, Student] = {}
        self.names: set[str] = set()

    def __len__(self) -> int:
        return len(self.students)

    def next_id(self) -> int:
        return len(self.students) + 1

    def has_name(self, name: str) -> bool:
        return name.casefold() in self.names

    def add(self, student: Student) -> Student:
        self.students[student.id] = student
        self.by_digest[student.login_sha256] = student
        self.by_account[student.account] = student
        self.names.add(student.name.casefold())
        return student

    def move(self, student: Student, account: int) -> None:
        """The student trades on a new account from now (a reset)."""
        self.by_account.pop(student.account, None)
        student.account = account
        self.by_account[account] = student

    def find(self, login: str) -> Student | None:
        if not LOGIN_TEXT.match(login):
            return None
        return self.by_digest.get(digest(login))


class LoginFile:
    """RUN_DIR/game_logins: "id login" lines, 0600, appended and fsynced before a login is handed out."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        self._fh = os.fdopen(fd, "a+")
        self._fh.seek(0)
        self.logins: dict[int, str] = {}
        for line in self._fh.read().splitlines():
            parts = line.split(" ")
            if len(parts) == 2 and parts[0].isdigit() and LOGIN_TEXT.match(parts[1]):
                self.logins[int(parts[0])] = parts[1]

    def add(self, student_id: int, login: str) -> None:
        self._fh.write(f"{student_id} {login}\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.logins[student_id] = login

    def close(self) -> None:
        self._fh.close()
