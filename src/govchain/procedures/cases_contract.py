"""The ``cases`` system contract: every case of every service, moved by ``engine.apply``.

Entry points: ``submit`` and every transition of ``engine.TRANSITIONS`` by name (``accept``,
``claim``, ``complete``, ``answer_check``, ``decide`` ...), each with ``case`` (the number).

Who acts is read from the transaction: an actor ``citizen/…`` or ``enterprise/…`` is the
applicant, for whom the handling department's node signs (a member with role ``admin`` or
``service``) after checking the login session it names; an actor ``<dept>/<name>`` of the
signing department is its staff, with the role the node vouches for (``args.role``; ``system``
for the node answering from its own data). ``object`` is open to anyone during a notice. A
service ``opened_by`` its department is submitted by that department's staff or node, about a
``subject``, with no applicant (``applicant_kind`` ``department``).

What a transition changes besides the case, in the same transaction: the queues of open steps
per department and role, the owner's decision queue, the enterprise registry (a name reserved
at submission, an enterprise ``deregistering`` while its deregistration runs) and the outputs of
an approval (an enterprise registered with its USCC, licences issued, an enterprise
deregistered with all its licences revoked).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from govchain.contracts.errors import UnknownMethod
from govchain.errors import Conflict, Forbidden, NotFound, SchemaViolation
from govchain.ledger.execution import CallContext
from govchain.procedures import layout, registry
from govchain.procedures.calendar import WorkCalendar, local_date
from govchain.procedures.cases import Actor, Case, Event, case_from_json, case_to_json, evolve
from govchain.procedures.definitions import CASE_ROLES, ServiceDefinition
from govchain.procedures.engine import DEPARTMENT, TRANSITIONS, apply, open_case
from govchain.procedures.numbers import case_number
from govchain.procedures.services_contract import load_calendar, load_definition
from govchain.sharing.contracts import read_attestation
from govchain.sharing.layout import SUBJECT_DOMAIN

NODE_ROLES = frozenset({"admin", "service"})
"""Member roles whose keys a node signs applicants' steps and its own answers with."""
MAX_LIST = 1000
"""Most entries a list view returns."""
_APPLICANT_PREFIXES = ("citizen/", "enterprise/")


def _actor(ctx: CallContext, method: str, args: Mapping[str, Any]) -> Actor:
    tx = ctx.tx
    person = tx.actor
    if method == "object":
        return Actor("public", person, ctx.signer_dept, "", tx.signer)
    if person.startswith(_APPLICANT_PREFIXES):
        if ctx.signer_role not in NODE_ROLES:
            raise Forbidden("an applicant's step is signed by the handling node's key")
        return Actor("applicant", person, ctx.signer_dept, "", tx.signer)
    if not person.startswith(ctx.signer_dept + "/"):
        raise Forbidden(
            f"actor {person!r} is not staff of {ctx.signer_dept}, the signing department"
        )
    role = args.get("role", ctx.signer_role)
    if role == "system":
        if ctx.signer_role not in NODE_ROLES:
            raise Forbidden("only the department's node answers as 'system'")
        return Actor("node", person, ctx.signer_dept, "system", tx.signer)
    if role not in CASE_ROLES and role != "admin":
        raise SchemaViolation(
            f"role must be one of {', '.join(sorted(CASE_ROLES))}, admin or system", field="role"
        )
    if ctx.signer_role not in NODE_ROLES and role != ctx.signer_role:
        raise Forbidden(f"a {ctx.signer_role} key cannot act as {role}")
    return Actor("staff", person, ctx.signer_dept, str(role), tx.signer)


def _event(ctx: CallContext, method: str, args: Mapping[str, Any]) -> Event:
    return Event(method, _actor(ctx, method, args), ctx.block_time_ms, ctx.tx.tx_id.hex(), args)


class CasesContract:
    """Cases: ``submit`` and the transitions; views ``case``, ``cases_of``, ``cases_about``,
    ``queue``, ``decisions``, ``overdue``."""

    name = "cases"

    def __init__(self, hash_fn: Callable[[bytes], bytes]) -> None:
        self._hash = hash_fn

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        if method == "submit":
            return self._submit(ctx, args)
        if method not in TRANSITIONS:
            raise UnknownMethod(f"contract {self.name} has no method {method!r}")
        number = args.get("case", ctx.tx.case)
        raw = registry.load(ctx, layout.case_key(number)) if type(number) is str else None
        if raw is None:
            raise NotFound(f"no case {number!r}", case=number)
        before = case_from_json(raw)
        particulars = raw.get("particulars", {})
        defn = load_definition(ctx, before.service, before.version)
        cal = load_calendar(ctx)
        event = _event(ctx, method, args)
        if method in ("answer_check", "attach"):
            self._check_attestation(ctx, before, defn, args)
        after = apply(before, event, defn, cal)
        after = self._effects(ctx, before, after, defn, cal, particulars)
        doc = case_to_json(after)
        doc["particulars"] = particulars
        registry.store(ctx, layout.case_key(after.number), doc)
        last = after.history[-1]
        ctx.emit(
            "cases.transition",
            {
                "case": after.number,
                "service": after.service,
                "event": last["event"],
                "step": last["step"],
                "status": after.status,
            },
        )
        return doc

    # --- submission ---------------------------------------------------------------------------

    def _submit(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        event = _event(ctx, "submit", args)
        code = args.get("service")
        if type(code) is not str:
            raise SchemaViolation("service must be a service code", field="service")
        defn = load_definition(ctx, code)
        cal = load_calendar(ctx)
        subject = args.get("subject", "")
        if type(subject) is not str or len(subject) > 64:
            raise SchemaViolation("subject must be a USCC or ''", field="subject")
        # A person acting for an enterprise (its legal representative or an authorised agent)
        # applies as the enterprise; ``_particulars`` checks the authorisation. A department
        # opening its own case (依职权) is no applicant: the engine checks it is the owner.
        if defn.opened_by == DEPARTMENT:
            kind = DEPARTMENT
        else:
            kind = "enterprise" if subject else event.actor.person.split("/", 1)[0]
        day = local_date(ctx.block_time_ms, cal).strftime("%Y%m%d")
        serial = (registry.load(ctx, layout.day_serial_key(day)) or 0) + 1
        number = case_number(day, serial)
        particulars = self._particulars(ctx, defn, args, subject, event.actor.person, number)
        case = open_case(number, defn, event, kind, subject, cal)
        if (
            case.status == "accepted"
            and subject
            and any(o.kind == "enterprise.deregister" for o in defn.outputs)
        ):
            registry.set_status(ctx, subject, "deregistering", number)
        registry.store(ctx, layout.day_serial_key(day), serial)
        doc = case_to_json(case)
        doc["particulars"] = particulars
        registry.store(ctx, layout.case_key(number), doc)
        registry.store(ctx, layout.applicant_key(case.applicant, number), {"service": code})
        if subject:
            registry.store(ctx, layout.subject_key(subject, number), {"service": code})
        self._queues(ctx, None, case, defn)
        ctx.emit("cases.submitted", {"case": number, "service": code, "subject": subject})
        return doc

    def _particulars(
        self, ctx: CallContext, defn: ServiceDefinition, args: Mapping[str, Any],
        subject: str, applicant: str, number: str,
    ) -> dict[str, Any]:  # fmt: skip
        """Check what the application says about its subject; reserve a new enterprise name.
        A department's own case names its subject (an enterprise, a project, a flag ...) with
        no authorisation to check: the department acts on its own authority."""
        if defn.opened_by == DEPARTMENT:
            extra = args.get("particulars", {})
            if not isinstance(extra, Mapping) or len(str(extra)) > 2000:
                raise SchemaViolation("particulars must be a small object", field="particulars")
            return dict(extra)
        registers = any(o.kind == "enterprise.register" for o in defn.outputs)
        if registers:
            if subject:
                raise SchemaViolation("a registration has no subject yet", field="subject")
            particulars = registry.parse_registration(args.get("particulars"))
            particulars["name_key"] = registry.reserve_name(ctx, particulars, number)
            return particulars
        if defn.applicants == {"enterprise"} and not subject:
            raise SchemaViolation(
                f"{defn.code} is applied for by an enterprise: give its USCC", field="subject"
            )
        extra = args.get("particulars", {})
        if not isinstance(extra, Mapping) or len(str(extra)) > 2000:
            raise SchemaViolation("particulars must be a small object", field="particulars")
        if subject:
            ent = registry.load_enterprise(ctx, subject)
            if applicant not in ent["agents"]:
                raise Forbidden(f"{applicant} is not authorised to act for {subject}", uscc=subject)
            if ent["status"] != "active":
                raise Conflict(
                    f"enterprise {subject} is {ent['status']}: "
                    f"{defn.code} needs an active enterprise",
                    status=ent["status"],
                )
        return dict(extra)

    # --- consequences of a transition ---------------------------------------------------------

    def _check_attestation(
        self, ctx: CallContext, case: Case, defn: ServiceDefinition, args: Mapping[str, Any]
    ) -> None:
        """An answer must be the attestation the step's (or the held material's) department
        issued for this case, about its subject, with the answer given."""
        if "material" in args:
            m = next((m for m in defn.materials if m.id == args["material"] and m.held_by), None)
            if m is None:
                return  # the engine names the problem
            what, dept, resource = f"material {m.id}", m.held_by, m.resource
        else:
            step = defn.step(str(args.get("step")))
            if step is None or step.check is None:
                return
            what, dept, resource = f"step {step.id}", step.dept, step.check.resource
        subject = case.subject or case.applicant
        ref = self._hash(SUBJECT_DOMAIN + ctx.tx.chain.encode() + b"\x00" + subject.encode()).hex()
        att = read_attestation(ctx, str(args.get("attestation")), ref)
        problems = []
        if att["issuer"] != dept:
            problems.append(f"issued by {att['issuer']}, not {dept}")
        if att["resource"] != resource:
            problems.append(f"about {att['resource']}, not {resource}")
        if att.get("case") != case.number:
            problems.append(f"asked for case {att.get('case')!r}")
        if att["answer"] is not args.get("answer"):
            problems.append(f"its answer is {att['answer']}")
        if problems:
            raise Conflict(
                f"attestation {att['id']} does not answer {what}: {'; '.join(problems)}",
                attestation=att["id"],
            )

    def _effects(
        self,
        ctx: CallContext,
        before: Case,
        after: Case,
        defn: ServiceDefinition,
        cal: WorkCalendar,
        particulars: Mapping[str, Any],
    ) -> Case:
        self._queues(ctx, before, after, defn)
        deregisters = any(o.kind == "enterprise.deregister" for o in defn.outputs)
        if deregisters and after.subject:
            if before.status == "submitted" and after.status == "accepted":
                registry.set_status(ctx, after.subject, "deregistering", after.number)
            elif (
                after.outcome in ("rejected", "withdrawn", "expired")
                and before.status in ("accepted", "supplement_requested")
                and registry.load_enterprise(ctx, after.subject)["status"] == "deregistering"
            ):
                registry.set_status(ctx, after.subject, "active", after.number, after.reason)
        registers = any(o.kind == "enterprise.register" for o in defn.outputs)
        if registers and after.outcome in ("rejected", "withdrawn", "expired"):
            registry.release_name(ctx, particulars, after.number)
        if before.status != "issued" and after.status == "issued":
            after = self._issue(ctx, after, defn, particulars, cal)
        if after.outcome == "revoked" and before.outcome != "revoked":
            for out in after.outputs:
                if out.get("licence"):
                    registry.revoke_licence(ctx, out["licence"], after.reason, after.number)
                elif out.get("certificate"):
                    registry.revoke_certificate(ctx, out["certificate"], after.reason, after.number)
        return after

    def _issue(
        self, ctx: CallContext, case: Case, defn: ServiceDefinition,
        particulars: Mapping[str, Any], cal: WorkCalendar,
    ) -> Case:  # fmt: skip
        outputs: list[dict[str, Any]] = []
        holder: dict[str, Any] | None = None
        # Only an output that acts on the enterprise reads it (a department's own case may be
        # about something else: a project, a flag).
        holding = ("licence.issue", "enterprise.deregister")
        if case.subject and any(o.kind in holding for o in defn.outputs):
            holder = registry.load_enterprise(ctx, case.subject)
        for out in defn.outputs:
            if out.kind == "enterprise.register":
                holder = registry.register_enterprise(
                    ctx, particulars, [case.applicant], case.number, defn.owner
                )
                outputs.append({"kind": out.kind, "uscc": holder["uscc"]})
            elif out.kind == "licence.issue":
                if holder is None or holder["status"] != "active":
                    raise Conflict(f"case {case.number} has no active enterprise to hold a licence")
                lic = registry.issue_licence(
                    ctx,
                    licence_type=out.licence_type,
                    name=out.licence_name,
                    holder=holder,
                    scope=str(particulars.get("scope", holder.get("scope", ""))),
                    validity_years=out.validity_years,
                    dept=defn.owner,
                    case=case.number,
                    commitment=bool(defn.commitment_check_days),
                    cal=cal,
                )
                outputs.append(
                    {"kind": out.kind, "licence": lic["number"], "type": out.licence_type}
                )
            elif out.kind == "certificate.issue":
                # Issued to whom the case is about: the applicant, or the enterprise it acts for.
                cert = registry.issue_certificate(
                    ctx,
                    certificate_type=out.certificate_type,
                    name=out.certificate_name,
                    holder=case.subject or case.applicant,
                    validity_days=out.validity_days,
                    dept=defn.owner,
                    case=case.number,
                    commitment=bool(defn.commitment_check_days),
                    cal=cal,
                )
                outputs.append(
                    {"kind": out.kind, "certificate": cert["number"], "type": out.certificate_type}
                )
            elif out.kind == "enterprise.deregister" and holder is not None:
                registry.set_status(ctx, holder["uscc"], "deregistered", case.number)
                revoked = registry.revoke_all_licences(
                    ctx,
                    holder["uscc"],
                    f"enterprise deregistered (case {case.number})",
                    case.number,
                )
                outputs.append(
                    {"kind": out.kind, "uscc": holder["uscc"], "licences_revoked": revoked}
                )
        ctx.emit("cases.outputs_issued", {"case": case.number, "outputs": outputs})
        return evolve(case, outputs=tuple(outputs))

    def _queues(
        self, ctx: CallContext, before: Case | None, after: Case, defn: ServiceDefinition
    ) -> None:
        """Keep the per-department queues in step with the case."""
        for i, st in enumerate(after.steps):
            d = defn.steps[i]
            key = layout.queue_key(d.dept, d.role, after.number, st.id)
            # Steps are work only while the case is undecided: a decision ends them all.
            live = st.status in ("open", "blocked") and after.status in (
                "accepted",
                "supplement_requested",
            )
            old = before.steps[i] if before is not None else None
            if live:
                entry = {
                    "service": after.service,
                    "step": st.id,
                    "kind": d.kind,
                    "status": st.status if after.status == "accepted" else after.status,
                    "assignee": st.assignee,
                    "opened_ms": st.opened_ms,
                    "deadline_ms": st.deadline_ms,
                }
                registry.store(ctx, key, entry)
            elif (
                old is not None
                and old.status in ("open", "blocked")
                and before is not None
                and (before.status in ("accepted", "supplement_requested"))
            ):
                ctx.delete(key)
        waiting = after.status in ("submitted", "issued", "decided") or (
            after.status == "accepted"
            and not defn.auto_decision
            and all(s.status == "done" for s in after.steps)
        )
        if after.status == "issued" and not after.commitment_deadline_ms:
            waiting = True
        key = layout.decision_key(defn.owner, after.number)
        if waiting:
            entry = {
                "service": after.service,
                "status": after.status,
                "due_ms": after.commitment_deadline_ms,
                "since_ms": after.history[-1]["time_ms"],
            }
            registry.store(ctx, key, entry)
        elif before is not None:
            ctx.delete(key)

    # --- views --------------------------------------------------------------------------------

    def view(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Run a read-only method."""
        limit = args.get("limit", 100)
        if type(limit) is not int or not 1 <= limit <= MAX_LIST:
            raise SchemaViolation(f"limit must be 1 to {MAX_LIST}", field="limit")
        if method == "case":
            number = args.get("case")
            raw = registry.load(ctx, layout.case_key(number)) if type(number) is str else None
            if raw is None:
                raise NotFound(f"no case {number!r}", case=number)
            return raw
        if method in ("cases_of", "cases_about"):
            who = args.get("applicant" if method == "cases_of" else "subject")
            if type(who) is not str or not who:
                raise SchemaViolation("who the cases are of", field="applicant")
            key = layout.applicant_key if method == "cases_of" else layout.subject_key
            prefix = key(who, "")
            out = []
            for k, _ in ctx.scan(prefix, limit):
                out.append(registry.load(ctx, layout.case_key(k[len(prefix) :].decode())))
            return out
        dept = args.get("dept")
        if type(dept) is not str or not dept:
            raise SchemaViolation("dept is required", field="dept")
        if method == "decisions":
            prefix = layout.decision_prefix(dept)
            return [
                {"case": k[len(prefix) :].decode(), **registry.load(ctx, k)}
                for k, _ in ctx.scan(prefix, limit)
            ]
        if method in ("queue", "overdue"):
            role = args.get("role", "")
            if type(role) is not str:
                raise SchemaViolation("role must be a string", field="role")
            prefix = layout.queue_prefix(dept, role)
            now = args.get("now_ms", ctx.block_time_ms)
            if type(now) is not int:
                raise SchemaViolation("now_ms must be an integer", field="now_ms")
            out = []
            for k, _ in ctx.scan(prefix, MAX_LIST * 10 if method == "overdue" else limit):
                entry = registry.load(ctx, k)
                parts = k[len(layout.queue_prefix(dept)) :].decode().split("/")
                entry.update(
                    {"role": parts[0], "case": parts[1], "overdue": 0 < entry["deadline_ms"] < now}
                )
                if method == "queue" or entry["overdue"]:
                    out.append(entry)
                if len(out) >= limit:
                    break
            return out
        raise UnknownMethod(f"contract {self.name} has no view {method!r}")
