"""The identity service of a node: users, the access log and the OIDC provider over one store,
plus the token key file. This is what the API and the CLI call."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from govchain.errors import AccountLocked, GovchainError, SchemaViolation
from govchain.identity.accesslog import AccessLog
from govchain.identity.oidc import Provider
from govchain.identity.records import RecordStore
from govchain.identity.tokens import TokenKey, TokenSigner
from govchain.identity.users import User, UserDirectory
from govchain.storage.base import KVStore

TOKEN_KEY_FILE = "token.key"
"""Name of the token-signing key file in the identity directory."""


def load_or_create_token_key(directory: Path) -> TokenKey:
    """Return the platform's token key from ``<directory>/token.key`` (0600), creating it once."""
    path = directory / TOKEN_KEY_FILE
    try:
        obj = orjson.loads(path.read_bytes())
        return TokenKey.from_private(bytes.fromhex(obj["private"]))
    except FileNotFoundError:
        pass
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise SchemaViolation(f"token key file {path} is malformed") from None
    key = TokenKey.generate()
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps({"kid": key.kid, "private": key.private.hex()}) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    return key


def identity_store_path(directory: Path) -> Path:
    """Return (creating it) the LMDB directory of the identity store under ``directory``."""
    path = directory / "store"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Identity:
    """Users, access log and OIDC provider of one node."""

    def __init__(
        self,
        store: KVStore,
        token_key: TokenKey,
        issuer: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.records = RecordStore(store)
        self.users = UserDirectory(self.records, clock)
        self.log = AccessLog(self.records, clock)
        self.provider = Provider(self.records, self.users, TokenSigner(token_key, issuer), clock)

    def login(self, login: str, password: str, otp: str, detail: Mapping[str, Any]) -> User:
        """Check a login and record it (success, failure or lockout) in the access log."""
        try:
            user = self.users.authenticate(login, password, otp)
        except AccountLocked:
            found = self.users.find_login(login)
            self.log.append(found.id if found else "-", "locked", detail)
            raise
        except GovchainError:
            found = self.users.find_login(login)
            self.log.append(found.id if found else "-", "login_failed", detail)
            raise
        self.log.append(user.id, "login", detail)
        return user
