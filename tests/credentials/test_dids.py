"""The did:govchain method: identifiers, key numbering, resolution and the key-validity rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from govchain.credentials import CredentialCheckFailed, dids
from govchain.credentials.multibase import decode_multikey
from govchain.crypto import get_suite
from govchain.errors import SchemaViolation
from govchain.ledger.genesis import Genesis, Member, make_genesis


def _genesis(suite: str = "intl") -> tuple[Genesis, Callable[[int], bytes]]:
    s = get_suite(suite)

    def key(i: int) -> bytes:
        return s.keypair_from_private(i.to_bytes(32, "big")).public

    return make_genesis(
        chain_id="didtest",
        suite=suite,
        created_ms=0,
        departments=[("market", "市场监督管理局", key(1)), ("tax", "税务局", key(2))],
        members=[
            Member("market/admin", "market", "admin", key(3)),
            Member("tax/admin", "tax", "admin", key(4)),
            Member("market/officer", "market", "officer", key(5)),
        ],
    ), key


def test_did_names_network_and_department() -> None:
    genesis, _ = _genesis()
    net = dids.network_id(genesis)
    digest = get_suite("intl").hash(genesis.canonical()).hex()
    assert net == digest[:16]
    did = dids.department_did(net, "market")
    assert did == f"did:govchain:{net}:market"
    assert dids.parse_did(did) == (net, "market")
    assert dids.parse_method_id(did + "#key-2") == (did, 2)
    for bad in ("did:govchain:XYZ:market", "did:web:x", f"did:govchain:{net}:Market"):
        with pytest.raises(CredentialCheckFailed) as err:
            dids.parse_did(bad)
        assert err.value.check == "issuer"


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_keys_are_numbered_in_genesis_then_ledger_order(suite: str) -> None:
    genesis, key = _genesis(suite)
    history = dids.history_from_genesis(
        genesis,
        [
            dids.MemberKeyChange(7, "market/new", "added", key(6)),
            dids.MemberKeyChange(9, "market/admin", "revoked"),
            dids.MemberKeyChange(12, "market/admin", "revoked"),  # second revocation: no change
        ],
    )
    did = dids.department_did(history.network_id, "market")
    doc = dids.resolve(did, history)
    assert [vm.id for vm in doc.verification_methods] == [did + f"#key-{n}" for n in (1, 2, 3)]
    assert [(vm.added_height, vm.revoked_height) for vm in doc.verification_methods] == [
        (0, 9),
        (0, None),
        (7, None),
    ]
    as_json = doc.to_json()
    assert as_json["verificationMethod"][0]["revokedAtHeight"] == 9
    mk = as_json["verificationMethod"][2]["publicKeyMultibase"]
    assert decode_multikey(mk) == (suite, key(6))


def test_resolution_refuses_other_networks_and_unknown_departments() -> None:
    genesis, _ = _genesis()
    history = dids.history_from_genesis(genesis)
    with pytest.raises(CredentialCheckFailed, match="network"):
        dids.resolve("did:govchain:0000000000000000:market", history)
    with pytest.raises(CredentialCheckFailed, match="no keys"):
        dids.resolve(dids.department_did(history.network_id, "police"), history)
    doc = dids.resolve(dids.department_did(history.network_id, "tax"), history)
    with pytest.raises(CredentialCheckFailed):
        doc.method(doc.id + "#key-2")


def test_history_refuses_inconsistent_changes() -> None:
    genesis, key = _genesis()
    with pytest.raises(SchemaViolation):
        dids.history_from_genesis(
            genesis, [dids.MemberKeyChange(3, "market/admin", "added", key(9))]
        )
    with pytest.raises(SchemaViolation):
        dids.history_from_genesis(genesis, [dids.MemberKeyChange(3, "market/ghost", "revoked")])
    with pytest.raises(SchemaViolation):
        dids.history_from_genesis(genesis, [dids.MemberKeyChange(3, "market/admin", "paused")])


def test_key_validity_rule() -> None:
    vm = dids.VerificationMethod("d#key-1", "d", b"k", "intl", added_height=10, revoked_height=50)
    live = dids.VerificationMethod(
        "d#key-2", "d", b"k", "intl", added_height=10, revoked_height=None
    )
    dids.check_key_valid(live, None)
    dids.check_key_valid(vm, dids.IssuanceEvidence(49))
    dids.check_key_valid(vm, dids.IssuanceEvidence(10))
    for evidence in (None, dids.IssuanceEvidence(50), dids.IssuanceEvidence(51)):
        with pytest.raises(CredentialCheckFailed) as err:
            dids.check_key_valid(vm, evidence)
        assert err.value.check == "key"
    with pytest.raises(CredentialCheckFailed):
        dids.check_key_valid(live, dids.IssuanceEvidence(9))
