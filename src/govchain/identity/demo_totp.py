"""The demo network's staff one-time codes: deterministic TOTP keys, so that the demo can
require the second factor of every staff login and still be tried by anyone.

A demo staff account's key is ``H("govchain/demo/totp/v1" ‖ 0 ‖ chain id ‖ 0 ‖ login)``
truncated to 20 bytes (H: SHA-256). Anyone who knows the chain id and the login can work the
codes out — which is the point on a demo network and why ``seed_demo_totp`` is for demo
networks only. The portal's login page of a demo network shows the current code next to each
demo officer (``current_code``), for those accounts only: an account whose key is not its
demo key shows nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable

from govchain.identity import totp
from govchain.identity.users import User, UserDirectory

DOMAIN = b"govchain/demo/totp/v1"
"""Domain separation of the demo keys."""
KEY_BYTES = 20
"""Length of a key (160 bits, as RFC 4226 recommends)."""


def demo_key(chain_id: str, login: str) -> bytes:
    """The deterministic TOTP key of a demo staff login."""
    material = DOMAIN + b"\x00" + chain_id.encode() + b"\x00" + login.encode()
    return hashlib.sha256(material).digest()[:KEY_BYTES]


def seed_demo_totp(
    users: UserDirectory, chain_id: str, logins: Iterable[str] | None = None
) -> list[User]:
    """Give demo staff accounts their demo TOTP keys and require the second factor of every
    staff login; return the accounts changed or confirmed.

    ``logins`` are the staff logins to seed (every staff account of the store when ``None``:
    the departments' ``admin`` accounts too, so that none is locked out by the policy).
    Running it again changes nothing."""
    wanted = None if logins is None else set(logins)
    seeded = []
    for user in users.list():
        if user.kind != "staff" or (wanted is not None and user.login not in wanted):
            continue
        seeded.append(users.set_totp_key(user.id, demo_key(chain_id, user.login)))
    users.require_staff_totp(True)
    return seeded


def current_code(
    users: UserDirectory,
    chain_id: str,
    login: str,
    clock: Callable[[], float] = time.time,
) -> tuple[str, int] | None:
    """The code a demo staff account can log in with now and the seconds until the next time
    step, or ``None`` when the account does not use its demo key (any account of a real
    network) or has used the codes of this step and the next."""
    user = users.find_login(login)
    key = demo_key(chain_id, login)
    if user is None or user.kind != "staff" or user.totp_key != key.hex():
        return None
    now = int(clock())
    # A code is accepted once: after a login in this time step, the next step's code (which
    # the provider accepts too, for clock drift) is the one that still works.
    step = max(now // totp.STEP_S, user.totp_last_step + 1)
    if step > now // totp.STEP_S + totp.WINDOW:
        return None
    return totp.hotp(key, step), totp.STEP_S - now % totp.STEP_S
