"""The enterprise, licence and certificate registries: the source of truth other services read.

A citizen's certificate (a school place's eligibility, a marriage certificate) is issued by the
case that decided it, to the applicant's on-chain id; like a licence it holds a credential
status index allocated in the same transaction, and a broken commitment revokes it and sets
its revocation bit in the transaction that records the failed check.

Registry records change only as outputs of cases (``procedures.contracts``), in the same
transaction as the decision, plus the few direct calls of the ``registry`` contract (agents,
import of existing enterprises, revocation by the registration authority). Registration
particulars are public by law (国家企业信用信息公示): they are on-chain; the legal
representative's identity number is not — only its keyed hash (``legal_rep_ref``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from govchain.credentials import ledger_status
from govchain.errors import Conflict, NotFound, SchemaViolation
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.execution import CallContext
from govchain.procedures import layout
from govchain.procedures.calendar import WorkCalendar, local_date
from govchain.procedures.industries import validate_industry_code
from govchain.procedures.names import HANGZHOU_DIVISIONS, check_name, name_key
from govchain.procedures.uscc import issue_uscc

ENTERPRISE_STATUSES = ("active", "deregistering", "deregistered", "revoked")
"""Life-cycle states of an enterprise."""
MAX_CAPITAL_FEN = 10**14
"""Largest registered capital accepted (one trillion yuan)."""
MAX_AGENTS = 20
"""Most people who may act for one enterprise."""
YEAR_MS = 365 * 86_400_000


class NameTaken(Conflict):
    """Another enterprise has (or a pending case reserved) the same name in the area."""

    code = "name_taken"


def load(ctx: CallContext, key: bytes) -> Any:
    """Return the JSON value of a state key, or ``None``."""
    raw = ctx.get(key)
    return None if raw is None else orjson.loads(raw)


def store(ctx: CallContext, key: bytes, value: Any) -> None:
    """Write a JSON value."""
    ctx.put(key, canonical_unchecked(value))


def _str(obj: Mapping[str, Any], key: str, limit: int, required: bool = True) -> str:
    v = obj.get(key, "")
    if type(v) is not str or len(v) > limit or (required and not v.strip()):
        raise SchemaViolation(
            f"particulars.{key} must be text of 1 to {limit} characters", field=f"particulars.{key}"
        )
    return v


def parse_registration(obj: Any) -> dict[str, Any]:
    """Check the public particulars of a registration application; return them normalised."""
    if not isinstance(obj, Mapping):
        raise SchemaViolation("particulars must be an object", field="particulars")
    allowed = {
        "name", "division", "legal_rep_name", "legal_rep_ref", "industry", "capital_fen",
        "address", "scope", "form", "employees",
    }  # fmt: skip
    for extra in sorted(set(obj) - allowed):
        raise SchemaViolation(f"unknown particular {extra!r}", field=f"particulars.{extra}")
    division = obj.get("division")
    if division not in HANGZHOU_DIVISIONS.values():
        raise SchemaViolation(
            "particulars.division must be a division code of the registration area",
            field="particulars.division",
        )
    ref = _str(obj, "legal_rep_ref", 64)
    if len(ref) != 64 or ref.strip("0123456789abcdef"):
        raise SchemaViolation(
            "legal_rep_ref must be a 64-hex hash", field="particulars.legal_rep_ref"
        )
    capital = obj.get("capital_fen")
    if type(capital) is not int or not 0 < capital <= MAX_CAPITAL_FEN:
        raise SchemaViolation(
            "capital_fen must be a positive integer (fen)", field="particulars.capital_fen"
        )
    employees = obj.get("employees", 0)
    if type(employees) is not int or not 0 <= employees <= 10_000_000:
        raise SchemaViolation("employees must be a count", field="particulars.employees")
    return {
        "name": _str(obj, "name", 60),
        "division": division,
        "legal_rep_name": _str(obj, "legal_rep_name", 40),
        "legal_rep_ref": ref,
        "industry": validate_industry_code(obj.get("industry")),
        "capital_fen": capital,
        "address": _str(obj, "address", 200),
        "scope": _str(obj, "scope", 1000),
        "employees": employees,
    }


def reserve_name(ctx: CallContext, particulars: Mapping[str, Any], number: str) -> str:
    """Check the enterprise name (structure, forbidden words, uniqueness in the registration
    area) and reserve it for case ``number``; return the uniqueness key."""
    parts = check_name(particulars["name"], HANGZHOU_DIVISIONS, ())
    key = name_key(parts)
    holder = load(ctx, layout.name_key(key))
    if holder is not None:
        owner = holder.get("uscc") or f"case {holder.get('case')}"
        raise NameTaken(
            f"the name {particulars['name']} is taken in the registration area (by {owner})",
            field="particulars.name",
        )
    store(ctx, layout.name_key(key), {"case": number, "name": particulars["name"]})
    return key


def _name_key(particulars: Mapping[str, Any]) -> str:
    """The uniqueness key of a registration's name (kept with the case when it was reserved)."""
    known = particulars.get("name_key")
    if type(known) is str:
        return known
    return name_key(check_name(particulars["name"], HANGZHOU_DIVISIONS, ()))


def release_name(ctx: CallContext, particulars: Mapping[str, Any], number: str) -> None:
    """Free a name reserved by a case that did not end in registration."""
    key = _name_key(particulars)
    holder = load(ctx, layout.name_key(key))
    if holder is not None and holder.get("case") == number and "uscc" not in holder:
        ctx.delete(layout.name_key(key))


def _next(ctx: CallContext, what: str) -> int:
    n = (load(ctx, layout.serial_key(what)) or 0) + 1
    store(ctx, layout.serial_key(what), n)
    return n


def set_agents(ctx: CallContext, uscc: str, before: list[str], after: list[str]) -> None:
    """Keep the index of who acts for which enterprise in step with its ``agents``."""
    for agent in before:
        if agent not in after:
            ctx.delete(layout.agent_key(agent, uscc))
    for agent in after:
        if agent not in before:
            store(ctx, layout.agent_key(agent, uscc), {"since_ms": ctx.block_time_ms})


def load_enterprise(ctx: CallContext, uscc: str) -> dict[str, Any]:
    """Return an enterprise record (``NotFound`` naming the code)."""
    ent = load(ctx, layout.enterprise_key(uscc))
    if ent is None:
        raise NotFound(f"no enterprise with the code {uscc} in the registry", uscc=uscc)
    result: dict[str, Any] = ent
    return result


def register_enterprise(
    ctx: CallContext, particulars: Mapping[str, Any], agents: list[str], case: str, dept: str
) -> dict[str, Any]:
    """Add an enterprise (issuing its USCC) and return its record."""
    division = particulars["division"]
    uscc = issue_uscc(division, _next(ctx, "uscc/" + division))
    key = _name_key(particulars)
    record = {
        **{k: v for k, v in particulars.items() if k != "name_key"},
        "uscc": uscc,
        "status": "active",
        "established_ms": ctx.block_time_ms,
        "case": case,
        "registered_by": dept,
        "agents": agents,
        "history": [{"status": "active", "time_ms": ctx.block_time_ms, "case": case}],
    }
    store(ctx, layout.enterprise_key(uscc), record)
    set_agents(ctx, uscc, [], agents)
    store(ctx, layout.name_key(key), {"uscc": uscc, "name": particulars["name"], "case": case})
    ctx.emit(
        "registry.enterprise_registered", {"uscc": uscc, "name": particulars["name"], "case": case}
    )
    return record


def set_status(
    ctx: CallContext, uscc: str, status: str, case: str, reason: str = ""
) -> dict[str, Any]:
    """Move an enterprise to another life-cycle status (recorded in its history)."""
    ent = load_enterprise(ctx, uscc)
    ent["status"] = status
    ent["history"] = [
        *ent["history"],
        {"status": status, "time_ms": ctx.block_time_ms, "case": case, "reason": reason},
    ]
    store(ctx, layout.enterprise_key(uscc), ent)
    ctx.emit("registry.enterprise_status", {"uscc": uscc, "status": status, "case": case})
    return ent


def issue_licence(
    ctx: CallContext,
    *,
    licence_type: str,
    name: Mapping[str, str],
    holder: Mapping[str, Any],
    scope: str,
    validity_years: int,
    dept: str,
    case: str,
    commitment: bool,
    cal: WorkCalendar,
    valid_from_ms: int | None = None,
) -> dict[str, Any]:
    """Put a licence into the licence registry and return its record (valid from the block
    time unless ``valid_from_ms`` says otherwise: an imported enterprise's licence)."""
    year = local_date(ctx.block_time_ms, cal).year
    if licence_type == "business_licence":
        number = str(holder["uscc"])  # a business licence carries the enterprise's USCC
    else:
        serial = _next(ctx, f"lic/{licence_type}/{year}")
        prefix = "".join(w[0] for w in licence_type.split("_")).upper()
        number = f"{prefix}{holder['division']}{year}{serial:06d}"
    record = {
        "number": number,
        "type": licence_type,
        "name": dict(name),
        "holder": holder["uscc"],
        "holder_name": holder["name"],
        "scope": scope,
        "valid_from_ms": ctx.block_time_ms if valid_from_ms is None else valid_from_ms,
        "valid_until_ms": ctx.block_time_ms + validity_years * YEAR_MS if validity_years else 0,
        "issuer": dept,
        "case": case,
        "commitment": commitment,
        "status": "active",
        "revoked": None,
        # Its entry in the issuer's status lists, allocated in this same transaction.
        "status_index": ledger_status.allocate(ctx, dept),
    }
    store(ctx, layout.licence_key(number), record)
    store(ctx, layout.holder_key(holder["uscc"], number), {"type": licence_type})
    ctx.emit(
        "registry.licence_issued",
        {"number": number, "type": licence_type, "holder": holder["uscc"]},
    )
    return record


def revoke_licence(ctx: CallContext, number: str, reason: str, case: str) -> dict[str, Any]:
    """Revoke an active licence (``Conflict`` if it is not active)."""
    lic = load(ctx, layout.licence_key(number))
    if lic is None:
        raise NotFound(f"no licence {number}", licence=number)
    if lic["status"] != "active":
        raise Conflict(f"licence {number} is {lic['status']}", licence=number)
    lic["status"] = "revoked"
    lic["revoked"] = {"reason": reason, "case": case, "time_ms": ctx.block_time_ms}
    store(ctx, layout.licence_key(number), lic)
    if "status_index" in lic:  # its credential's revocation bit flips in this transaction
        ledger_status.set_status(
            ctx,
            lic["issuer"],
            lic["status_index"],
            ledger_status.REVOCATION,
            on=True,
            reason=reason,
        )
    ctx.emit(
        "registry.licence_revoked", {"number": number, "holder": lic["holder"], "reason": reason}
    )
    result: dict[str, Any] = lic
    return result


def licences_of(ctx: CallContext, uscc: str, limit: int = 500) -> list[dict[str, Any]]:
    """Return an enterprise's licences."""
    prefix = layout.holder_key(uscc, "")
    out = []
    for key, _ in ctx.scan(prefix, limit):
        lic = load(ctx, layout.licence_key(key[len(prefix) :].decode()))
        if lic is not None:
            out.append(lic)
    return out


def revoke_all_licences(ctx: CallContext, uscc: str, reason: str, case: str) -> list[str]:
    """Revoke every active licence of an enterprise (deregistration, revocation)."""
    done = []
    for lic in licences_of(ctx, uscc):
        if lic["status"] == "active":
            revoke_licence(ctx, lic["number"], reason, case)
            done.append(lic["number"])
    return done


# --- citizen certificates ---------------------------------------------------------------------

CERTIFICATE_AREA = "330100"
"""Division code of the city whose departments issue the certificates (杭州市): the area
part of every certificate number, as a licence number carries its holder's district."""
DAY_MS = 86_400_000


def certificate_number(certificate_type: str, year: int, serial: int) -> str:
    """Return the number of a certificate: the initials of its type, the area, the year and a
    six-digit serial per type and year (``MC3301002026000001``), like a licence number."""
    prefix = "".join(w[0] for w in certificate_type.split("_")).upper()
    return f"{prefix}{CERTIFICATE_AREA}{year}{serial:06d}"


def issue_certificate(
    ctx: CallContext,
    *,
    certificate_type: str,
    name: Mapping[str, str],
    holder: str,
    validity_days: int,
    dept: str,
    case: str,
    commitment: bool,
    cal: WorkCalendar,
) -> dict[str, Any]:
    """Put a certificate issued by case ``case`` to ``holder`` (the applicant's on-chain id, or
    the USCC of the enterprise the case is about) into the certificate registry and return its
    record: valid from the block time for ``validity_days`` days (0: no end), with its
    credential status index allocated in this transaction."""
    year = local_date(ctx.block_time_ms, cal).year
    number = certificate_number(
        certificate_type, year, _next(ctx, f"cert/{certificate_type}/{year}")
    )
    record = {
        "number": number,
        "type": certificate_type,
        "name": dict(name),
        "holder": holder,
        "valid_from_ms": ctx.block_time_ms,
        "valid_until_ms": ctx.block_time_ms + validity_days * DAY_MS if validity_days else 0,
        "issuer": dept,
        "case": case,
        "commitment": commitment,
        "status": "active",
        "revoked": None,
        # Its entry in the issuer's status lists, allocated in this same transaction.
        "status_index": ledger_status.allocate(ctx, dept),
    }
    store(ctx, layout.certificate_key(number), record)
    store(ctx, layout.certificate_holder_key(holder, number), {"type": certificate_type})
    ctx.emit(
        "registry.certificate_issued",
        {"number": number, "type": certificate_type, "holder": holder, "case": case},
    )
    return record


def load_certificate(ctx: CallContext, number: str) -> dict[str, Any]:
    """Return a certificate record (``NotFound`` naming the number)."""
    cert = load(ctx, layout.certificate_key(number))
    if cert is None:
        raise NotFound(f"no certificate {number!r}", certificate=number)
    result: dict[str, Any] = cert
    return result


def revoke_certificate(ctx: CallContext, number: str, reason: str, case: str) -> dict[str, Any]:
    """Revoke an active certificate and set its credential's revocation bit, in the same
    transaction (``Conflict`` if it is not active)."""
    cert = load_certificate(ctx, number)
    if cert["status"] != "active":
        raise Conflict(f"certificate {number} is {cert['status']}", certificate=number)
    cert["status"] = "revoked"
    cert["revoked"] = {"reason": reason, "case": case, "time_ms": ctx.block_time_ms}
    store(ctx, layout.certificate_key(number), cert)
    ledger_status.set_status(
        ctx, cert["issuer"], cert["status_index"], ledger_status.REVOCATION, on=True, reason=reason
    )
    ctx.emit(
        "registry.certificate_revoked",
        {"number": number, "holder": cert["holder"], "reason": reason},
    )
    return cert


def certificates_of(ctx: CallContext, holder: str, limit: int = 500) -> list[dict[str, Any]]:
    """Return the certificates issued to ``holder``, in number order."""
    prefix = layout.certificate_holder_key(holder, "")
    out = []
    for key, _ in ctx.scan(prefix, limit):
        cert = load(ctx, layout.certificate_key(key[len(prefix) :].decode()))
        if cert is not None:
            out.append(cert)
    return out
