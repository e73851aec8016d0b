"""A test network of the duplication review: its departments, the ``projects`` contract
committed through the lifecycle (installed by one department, approved by all), and staff
logins through the node's own OIDC provider (authorization code flow with PKCE)."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from govchain.apps.projects.app import APP
from govchain.contracts.packages import code_hash
from govchain.errors import Conflict
from govchain.identity.service import Identity
from govchain.identity.tokens import b64u
from govchain.ledger.genesis import Params
from govchain.node.casedesk import CaseDesk
from govchain.node.network import NetworkDir, init_network

DEPARTMENTS = [
    ("market", "市场监督管理局"),
    ("tax", "税务局"),
    ("health", "卫生健康委员会"),
    ("medical_insurance", "医疗保障局"),
]
"""Departments of the test network."""
PASSWORD = "Projects-test-2026"
"""Password of every test staff account."""
CLIENT = "projects-test"
"""OIDC client the logins go through."""
REDIRECT = "http://127.0.0.1/projects-test/callback"
"""Its redirect URI."""


def make_network(root: Path) -> NetworkDir:
    """Create the test network directory at ``root``."""
    init_network(
        root,
        chain_id="projects-test",
        suite_name="intl",
        departments=DEPARTMENTS,
        # Few state buckets keep node start-up fast; small blocks cut quickly.
        params=Params(state_buckets=256, block_max_ms=5),
    )
    return NetworkDir(root)


def deploy(desk: CaseDesk) -> None:
    """Install, approve (by every department) and commit the service's contract."""
    departments = [d for d, _ in DEPARTMENTS]
    files = APP.contract_files()
    digest = code_hash(desk.node.suite.hash, files)
    name = APP.contract_name
    install = {"name": name, "version": 1, "files": files, "policy": APP.policy}
    calls = [(departments[0], "install", install)]
    calls += [
        (d, "approve", {"name": name, "version": 1, "code_hash": digest}) for d in departments
    ]
    calls += [(departments[0], "commit", {"name": name, "version": 1})]
    for dept, method, args in calls:
        desk.commit_one(desk.sign(dept, "lifecycle", method, args, f"{dept}/admin"), 30)


def staff_login(identity: Identity, dept: str, role: str) -> dict[str, str]:
    """Make (once) the staff account ``<dept>/<role>-1`` and return the bearer header of a
    login through the authorization code flow."""
    login = f"{dept}/{role}-1"
    with contextlib.suppress(Conflict):
        identity.users.create_staff(login, f"{dept} {role}", dept, role, PASSWORD)
    identity.provider.register_client(CLIENT, "测试", [REDIRECT])  # idempotent
    user = identity.login(login, PASSWORD, "", {"client": CLIENT})
    cookie = identity.provider.start_session(user)
    verifier = secrets.token_urlsafe(48)
    url = identity.provider.authorize(
        {
            "response_type": "code",
            "client_id": CLIENT,
            "redirect_uri": REDIRECT,
            "scope": "openid profile",
            "code_challenge": b64u(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        },
        cookie.partition(".")[0],
        user,
    )
    code = parse_qs(urlsplit(url).query)["code"][0]
    tokens = identity.provider.exchange_code(CLIENT, None, code, REDIRECT, verifier)
    return {"Authorization": f"Bearer {tokens.access_token}"}
