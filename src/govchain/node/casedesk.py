"""The case desk: what a node does for people who apply and staff who handle cases.

Below the HTTP layer (``api/routes/cases.py`` and the portal call it): it checks an application
form against the service's JSON Schema, keeps the form and uploaded materials encrypted with the
handling department (``node.materials``), and signs the ``cases`` transactions with the keys of
the departments this node serves — for an applicant, with the applicant's pseudonymous id as
actor and the login session it checked in the arguments; for staff, with their id as actor and
their role in the arguments; for a case a department opens itself (依职权,
``department_submission``), with the department's node or officer as actor and the case's
subject. It also keeps the service catalogue's search index in step with the published
definitions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from govchain.errors import (
    CallFailed,
    Conflict,
    Forbidden,
    GovchainError,
    InvalidIdentityNumber,
    NotFound,
    SchemaViolation,
)
from govchain.identity.idnumbers import validate_resident_id, validate_uscc
from govchain.ledger.chain import CommittedBlock
from govchain.ledger.receipts import LogEntry
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.materials import MaterialStore
from govchain.node.network import NetworkDir
from govchain.node.node import Node
from govchain.procedures.calendar import WorkCalendar, load_default_calendar, parse_calendar
from govchain.procedures.cases import Actor, Event, case_from_json
from govchain.procedures.catalogue import Catalogue
from govchain.procedures.definitions import ServiceDefinition, parse_definition
from govchain.procedures.engine import (
    DEPARTMENT,
    CaseExpired,
    IllegalTransition,
    NoApplicant,
    WrongActor,
    apply,
    open_case,
)
from govchain.procedures.layout import CALENDAR_KEY, case_key
from govchain.procedures.names import HANGZHOU_DIVISIONS, parse_name
from govchain.procedures.registry import NameTaken
from govchain.procedures.services_contract import departments_in
from govchain.sharing.keyfiles import ensure_agreement_key
from govchain.sharing.layout import subject_ref

MAX_FORM_BYTES = 256 * 1024
"""Largest application form accepted."""


RECEIPT_ERRORS: dict[str, type[GovchainError]] = {
    "illegal_transition": IllegalTransition,
    "wrong_actor": WrongActor,
    "case_expired": CaseExpired,
    "no_applicant": NoApplicant,
    "name_taken": NameTaken,
    "schema_violation": SchemaViolation,
    "not_found": NotFound,
    "forbidden": Forbidden,
    "conflict": Conflict,
}
"""The error types of failed receipts of case, service and registry calls: a transaction that
passed the checks before signing but failed in its block (the state moved meanwhile) is answered
as the error the contract raised."""


def refusal_of(receipt: Mapping[str, Any], tx_id: str) -> GovchainError | None:
    """The error a committed transaction's failed receipt names (``None`` if it succeeded)."""
    if receipt["status"] == "ok":
        return None
    err = receipt.get("error") or {}
    kind = RECEIPT_ERRORS.get(str(err.get("code")), CallFailed)
    return kind(str(err.get("message", "the transaction failed")), tx_id=tx_id)


class FormInvalid(SchemaViolation):
    """An application form does not satisfy its service's schema; ``errors`` lists each
    ``{field, message}``."""

    code = "form_invalid"


REGISTRATION_FIELDS = (
    "name",
    "division",
    "legal_rep_name",
    "industry",
    "capital_fen",
    "address",
    "scope",
    "employees",
)
"""Form fields of a registration that are public particulars of the registry."""


PREFILL_DEFAULTS = ("premises_address",)
"""Pre-filled fields the applicant may change (the others are the register's)."""


def _formats() -> Any:
    """JSON Schema formats of Chinese identity numbers, checked with their check characters:
    ``resident-id`` (GB 11643) and ``uscc`` (GB 32100)."""
    from jsonschema import FormatChecker

    def resident(value: object) -> bool:
        return not isinstance(value, str) or bool(validate_resident_id(value))

    def uscc(value: object) -> bool:
        return not isinstance(value, str) or bool(validate_uscc(value))

    checker = FormatChecker()
    checker.checks("resident-id", raises=InvalidIdentityNumber)(resident)
    checker.checks("uscc", raises=InvalidIdentityNumber)(uscc)
    return checker


def check_form(schema: Mapping[str, Any], form: Any) -> None:
    """Raise ``FormInvalid`` listing every place where ``form`` breaks ``schema`` (formats
    ``resident-id`` and ``uscc`` included)."""
    from jsonschema import Draft202012Validator

    if not isinstance(form, Mapping):
        raise FormInvalid(
            "the form must be a JSON object", errors=[{"field": "", "message": "not an object"}]
        )
    errors = []
    validator = Draft202012Validator(schema, format_checker=_formats())
    for err in sorted(validator.iter_errors(form), key=lambda e: [str(p) for p in e.path]):
        path = ".".join(str(p) for p in err.path)
        if err.validator == "required" and isinstance(err.validator_value, list):
            # One error per missing property, each naming the whole list: keep its own.
            missing = err.message.split("'")[1] if err.message.count("'") >= 2 else path
            field = f"{path}.{missing}" if path else missing
            if {"field": field, "message": "is required"} not in errors:
                errors.append({"field": field, "message": "is required"})
            continue
        message = err.message
        if err.validator == "format" and err.cause is not None:
            message = str(err.cause)  # the identity number's own reason (check digit ...)
        errors.append({"field": path, "message": message})
    if errors:
        first = errors[0]
        raise FormInvalid(
            f"the form has {len(errors)} problem(s): "
            f"{first['field'] or 'form'}: {first['message']}",
            errors=errors,
        )


class CaseDesk:
    """Signs case transactions for the departments this node holds keys of."""

    def __init__(self, node: Node, network_dir: Path | str, materials: MaterialStore) -> None:
        self.node = node
        self.materials = materials
        self._net = NetworkDir(network_dir)
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._last_nonce = 0
        self._catalogue: Catalogue | None = None
        self._parsed: dict[tuple[str, int], ServiceDefinition] = {}
        self._calendar: tuple[bytes, WorkCalendar] | None = None
        node.listeners.append(self._on_block)

    # --- signing ----------------------------------------------------------------------------

    def _nonce(self) -> int:
        with self._lock:
            self._last_nonce = max(time.time_ns() // 1000, self._last_nonce + 1)
            return self._last_nonce

    def _private(self, member: str) -> bytes:
        key = self._keys.get(member)
        if key is None:
            try:
                key = self._net.member_key(member).keypair.private
            except NotFound:
                raise NotFound(
                    f"this node does not hold the key of {member} "
                    "(it does not serve that department)"
                ) from None
            self._keys[member] = key
        return key

    def sign(
        self,
        dept: str,
        contract: str,
        method: str,
        args: Mapping[str, Any],
        actor: str,
        case: str = "",
        purpose: str = "",
    ) -> Transaction:
        """Return a call signed with the department's admin key held by this node."""
        member = f"{dept}/admin"
        private = self._private(member)
        suite = self.node.suite
        return build_transaction(
            chain=self.node.genesis.chain_id,
            signer=member,
            nonce=self._nonce(),
            contract=contract,
            method=method,
            args=dict(args),
            actor=actor,
            case=case,
            purpose=purpose,
            sign=lambda m: suite.sign(private, m),
            hash_fn=suite.hash,
        )

    def commit(
        self, txs: list[Transaction], timeout_s: float
    ) -> list[GovchainError | dict[str, Any]]:
        """Submit signed transactions together and wait until they are durable; return, per
        transaction, its result or its refusal (at admission, or its failed receipt)."""
        outcomes = self.node.submit(
            [t.envelope() for t in txs], raw=False, wait=True, timeout=timeout_s
        )
        out: list[GovchainError | dict[str, Any]] = []
        for outcome, tx in zip(outcomes, txs, strict=True):
            if isinstance(outcome, GovchainError):
                out.append(outcome)
                continue
            entry = self.node.ledger.entry_bytes(self.node.ledger.locate(tx.tx_id).log_index)
            receipt = LogEntry.decode(entry).receipt.to_json()
            refused = refusal_of(receipt, tx.tx_id.hex())
            out.append(refused if refused is not None else receipt["result"])
        return out

    def commit_one(self, tx: Transaction, timeout_s: float) -> dict[str, Any]:
        """``commit`` of one transaction: its result, or its refusal raised."""
        (outcome,) = self.commit([tx], timeout_s)
        if isinstance(outcome, GovchainError):
            raise outcome
        return outcome

    # --- reads ------------------------------------------------------------------------------

    def definition(self, code: str, version: int | None = None) -> dict[str, Any]:
        """Return a published definition and its current head."""
        args: dict[str, Any] = {"code": code}
        if version is not None:
            args["version"] = version
        found: dict[str, Any] = self.node.query("services", "definition", args)
        return found

    def case(self, number: str) -> dict[str, Any]:
        """Return a case record (read from committed state without waiting for the committer:
        one key is either as before or as after a block)."""
        if type(number) is not str or not 0 < len(number) <= 64:
            raise NotFound(f"no case {number!r}", case=number)
        raw = self.node.ledger.state.get_value(case_key(number))
        if raw is None:
            raise NotFound(f"no case {number!r}", case=number)
        found: dict[str, Any] = orjson.loads(raw)
        return found

    def catalogue(self) -> Catalogue:
        """Return the search index of the published definitions people apply for (built on
        first use): a service a department opens itself (依职权) is not offered to applicants."""
        with self._lock:
            if self._catalogue is None:
                defs = self.node.query("services", "definitions", {})
                self._catalogue = Catalogue(d for d in defs if d is not None and _applied_for(d))
            return self._catalogue

    def _on_block(self, block: CommittedBlock) -> None:
        """Committer thread: re-index definitions published in this block."""
        if self._catalogue is None:
            return
        for receipt in block.result.receipts:
            for event in receipt.events:
                if event["type"] == "services.published":
                    data = event["data"]
                    try:
                        defn = self.node.ledger.state.get_value(
                            b"c/services/ver/"
                            + data["code"].encode()
                            + b"/"
                            + b"%08d" % data["version"]
                        )
                    except GovchainError:
                        continue
                    if defn is not None and _applied_for(found := orjson.loads(defn)):
                        self._catalogue.add(found)

    # --- applicants -------------------------------------------------------------------------

    def upload(
        self, dept: str, applicant: str, name: str, media_type: str, data: bytes
    ) -> dict[str, Any]:
        """Keep a material with the handling department; return its hash."""
        return self.materials.put(dept, applicant, name, media_type, data)

    def submission(
        self,
        applicant: str,
        session: str,
        service: str,
        form: Any,
        materials: Mapping[str, str],
        consents: list[str],
        subject: str = "",
        particulars: Mapping[str, Any] | None = None,
    ) -> Transaction:
        """Check an application and return its signed ``submit`` transaction."""
        found = self.definition(service)
        defn, head = found["definition"], found["current"]
        dept = defn["owner"]
        if subject:
            ent = self.node.query("registry", "enterprise", {"uscc": subject})
            if applicant not in ent["agents"]:
                raise Forbidden(
                    f"you are not authorised to act for {subject}: its legal representative "
                    "can authorise you",
                    uscc=subject,
                )
        if subject and isinstance(form, Mapping):
            # What the register says is not the applicant's to change.
            register = self.prefill(service, subject)
            defaults = {k: register.pop(k) for k in PREFILL_DEFAULTS if k in register}
            form = {**defaults, **form, **register}
        check_form(defn["form"], form)
        encoded = orjson.dumps(form, option=orjson.OPT_SORT_KEYS)
        if len(encoded) > MAX_FORM_BYTES:
            raise SchemaViolation(f"the form is larger than {MAX_FORM_BYTES} bytes", field="form")
        self.materials.check(dept, applicant, materials)
        stored = self.materials.put(dept, applicant, "form.json", "application/json", encoded)
        args: dict[str, Any] = {
            "service": service,
            "form_hash": stored["hash"],
            "materials": dict(materials),
            "consents": list(consents),
            "session": session,
        }
        if subject:
            args["subject"] = subject
        if particulars is None and any(
            o.get("kind") == "enterprise.register" for o in defn.get("outputs", [])
        ):
            particulars = self.registration_particulars(form)
        if particulars is not None:
            args["particulars"] = dict(particulars)
        purpose = f"{service} v{head['version']}"
        return self.sign(dept, "cases", "submit", args, applicant, purpose=purpose)

    def prefill(self, service: str, subject: str) -> dict[str, Any]:
        """The read-only fields of a service's form that the enterprise register answers
        (public particulars, 国家企业信用信息公示), for the enterprise ``subject``."""
        schema = self.definition(service)["definition"]["form"]
        wanted = {k for k, v in schema.get("properties", {}).items() if v.get("readOnly")}
        if not subject or not wanted:
            return {}
        ent = self.node.query("registry", "enterprise", {"uscc": subject})
        division = next(
            (n for n, c in HANGZHOU_DIVISIONS.items() if c == ent["division"]), "杭州市"
        )
        try:
            form_name = parse_name(ent["name"], HANGZHOU_DIVISIONS).form
        except GovchainError:
            form_name = "有限责任公司"
        established = time.strftime(
            "%Y-%m-%d", time.gmtime(ent["established_ms"] / 1000 + 8 * 3600)
        )
        known = {
            "enterprise_name": ent["name"],
            "uscc": ent["uscc"],
            "enterprise_type": "有限责任公司" if form_name == "有限公司" else form_name,
            "registered_address": ent["address"],
            "legal_rep_name": ent["legal_rep_name"],
            "registered_capital_fen": ent["capital_fen"],
            "established_date": established,
            "registration_authority": f"{division}市场监督管理局",
            "business_scope": ent["scope"],
            "industry_code": ent["industry"],
            # The premises are where it is registered unless the applicant says otherwise.
            "premises_address": ent["address"],
        }
        return {k: v for k, v in known.items() if k in wanted}

    def registration_particulars(self, form: Mapping[str, Any]) -> dict[str, Any]:
        """The public particulars of a registration, from its form: the legal representative's
        identity number is replaced by its pseudonymous reference (the number stays off-chain)."""
        out = {k: form[k] for k in REGISTRATION_FIELDS if k in form}
        rep_id = validate_resident_id(str(form.get("legal_rep_id", "")))
        out["legal_rep_ref"] = subject_ref(self.node.suite, self.node.genesis.chain_id, rep_id)
        return out

    def applicant_step(
        self, applicant: str, session: str, number: str, transition: str, args: Mapping[str, Any]
    ) -> Transaction:
        """Return an applicant's own transition (``resubmit``, ``withdraw``,
        ``revoke_consent``) signed by the department that handles the case; a cited file
        (a supplement's materials, a revocation's ``replacement``) must be one the applicant
        uploaded to that department."""
        case = self.case(number)
        found = self.definition(case["service"], case["version"])
        dept = found["definition"]["owner"]
        self.preview(
            number,
            transition,
            Actor("applicant", applicant, dept, "", f"{dept}/admin"),
            {k: v for k, v in args.items() if k != "form"}
            | ({"form_hash": "0" * 64} if "form" in args else {}),
        )
        out = {**args, "case": number, "session": session}
        if transition == "resubmit":
            if "form" in out:
                form = out.pop("form")
                check_form(found["definition"]["form"], form)
                encoded = orjson.dumps(form, option=orjson.OPT_SORT_KEYS)
                out["form_hash"] = self.materials.put(
                    dept, applicant, "form.json", "application/json", encoded
                )["hash"]
            self.materials.check(dept, applicant, out.get("materials", {}))
        if transition == "revoke_consent" and out.get("replacement") is not None:
            self.materials.check(
                dept, applicant, {str(out.get("material")): str(out["replacement"])}
            )
        return self.sign(dept, "cases", transition, out, applicant, case=number)

    def objection(self, person: str, number: str, step: str, text: str) -> Transaction:
        """Return an objection to a case's public notice, signed by the handling department."""
        case = self.case(number)
        dept = self.definition(case["service"], case["version"])["definition"]["owner"]
        return self.sign(
            dept,
            "cases",
            "object",
            {"case": number, "step": step, "text": text},
            person,
            case=number,
        )

    # --- checking before signing --------------------------------------------------------------

    def preview(self, number: str, transition: str, actor: Actor, args: Mapping[str, Any]) -> None:
        """Run the transition through the case engine against the committed case, so that an
        illegal transition or a wrong actor is refused with its typed error before anything is
        signed (the contract checks again when the block runs)."""
        raw = self.case(number)
        case = case_from_json(raw)
        defn = self._parsed_definition(case.service, case.version)
        cal = self._calendar_in_force()
        apply(
            case,
            Event(transition, actor, self._now(), "00" * 32, {**args, "case": number}),
            defn,
            cal,
        )

    def _parsed_definition(self, code: str, version: int) -> ServiceDefinition:
        defn = self._parsed.get((code, version))
        if defn is None:  # published versions never change: parse each once
            found = self.definition(code, version)["definition"]
            defn = parse_definition(found, departments_in(found))
            self._parsed[(code, version)] = defn
        return defn

    def _calendar_in_force(self) -> WorkCalendar:
        raw_cal = self.node.ledger.state.get_value(CALENDAR_KEY) or b""
        if self._calendar is None or self._calendar[0] != raw_cal:
            cal_in_force = (
                load_default_calendar() if not raw_cal else parse_calendar(orjson.loads(raw_cal))
            )
            self._calendar = (raw_cal, cal_in_force)
        return self._calendar[1]

    def _now(self) -> int:
        head = self.node.ledger.head
        return max(self.node.clock_ms(), head.header.timestamp_ms if head else 0)

    # --- staff ------------------------------------------------------------------------------

    def department_submission(
        self,
        dept: str,
        person: str,
        service: str,
        subject: str,
        form: Any,
        *,
        role: str = "system",
        particulars: Mapping[str, Any] | None = None,
    ) -> Transaction:
        """Return the signed ``submit`` of a case the department opens itself (依职权) about
        ``subject``: ``person`` is its staff member (``role`` ``officer`` or ``admin``) or its
        node (``role`` ``system``); the form (what the department records) is checked against
        the service's schema and kept with the department, ``particulars`` go on-chain."""
        args = self.department_case(dept, person, service, subject, form, role, particulars)
        return self.sign_department_case(dept, person, args)

    def department_case(
        self,
        dept: str,
        person: str,
        service: str,
        subject: str,
        form: Any,
        role: str = "system",
        particulars: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``department_submission`` without the signature: check everything, keep the form,
        and return the ``submit`` arguments (sign them with ``sign_department_case``). A
        caller opening many cases prepares them all first and signs them together, so that
        their nonces stay close (a node accepts a signer's nonces within a small window)."""
        found = self.definition(service)
        raw, head = found["definition"], found["current"]
        if raw.get("opened_by") != DEPARTMENT:
            raise SchemaViolation(
                f"{service} is applied for, not opened by a department", field="service"
            )
        if not person.startswith(dept + "/"):
            raise Forbidden(f"{person} is not staff of {dept}")
        check_form(raw["form"], form)
        encoded = orjson.dumps(form, option=orjson.OPT_SORT_KEYS)
        if len(encoded) > MAX_FORM_BYTES:
            raise SchemaViolation(f"the form is larger than {MAX_FORM_BYTES} bytes", field="form")
        digest = self.materials.put(dept, person, "form.json", "application/json", encoded)["hash"]
        args: dict[str, Any] = {
            "service": service,
            "subject": subject,
            "form_hash": digest,
            "materials": {},
            "consents": [],
            "role": role,
        }
        if particulars is not None:
            args["particulars"] = dict(particulars)
        # The engine's own checks (the owner, the role, a subject), before anything is signed.
        kind = "node" if role == "system" else "staff"
        actor = Actor(kind, person, dept, role, f"{dept}/admin")
        event = Event("submit", actor, self._now(), "00" * 32, args)
        defn = self._parsed_definition(service, int(raw["version"]))
        open_case("0", defn, event, DEPARTMENT, subject, self._calendar_in_force())
        return {**args, "purpose": f"{service} v{head['version']}"}

    def sign_department_case(
        self, dept: str, person: str, prepared: Mapping[str, Any]
    ) -> Transaction:
        """Sign the ``submit`` that ``department_case`` prepared."""
        args = {k: v for k, v in prepared.items() if k != "purpose"}
        return self.sign(dept, "cases", "submit", args, person, purpose=str(prepared["purpose"]))

    def staff_step(
        self,
        dept: str,
        person: str,
        role: str,
        number: str,
        transition: str,
        args: Mapping[str, Any],
    ) -> Transaction:
        """Return a staff member's transition signed by their department's key."""
        actor = Actor("staff", person, dept, role, f"{dept}/admin")
        self.preview(number, transition, actor, args)
        return self.sign(
            dept, "cases", transition, {**args, "case": number, "role": role}, person, case=number
        )


def _applied_for(defn: Mapping[str, Any]) -> bool:
    """Whether people apply for the service (not one a department opens itself)."""
    return bool(defn.get("opened_by", "applicant") != "department")


def open_casedesk(node: Node, network_dir: Path | str) -> CaseDesk:
    """Return the case desk of a node, keeping materials for every department whose admin key
    the network directory holds (the embedded node: all of them)."""
    net = NetworkDir(network_dir)
    keys = {}
    for dept in node.genesis.departments:
        if net.member_key_path(f"{dept.id}/admin").exists():
            keys[dept.id] = ensure_agreement_key(net.root, dept.id, node.genesis.suite)
    return CaseDesk(node, network_dir, MaterialStore(node.ledger.store, node.suite, keys))
