"""Key projects and public-welfare funds (重点项目和公益资金监管): projects with milestones and
payees, disbursements in integer fen, evidence notarised by hash, and anomaly flags with the
inputs that raised them and the case (办件) that handles each on the case engine.

State keys (under the contract's namespace ``c/funds/``):

- ``p/<project>``                    a project (owner department, budget, payees, milestones)
- ``pk/<department>/<project>``      projects of an owner department (value ``1``)
- ``x/<disbursement>``               a disbursement; ``px/<project>/<disbursement>`` its index
- ``v/<digest>``                     an evidence item; ``pv/<project>/<milestone>/<digest>``
- ``f/<flag>``                       a flag with its inputs and its case number
- ``fk/<rule>/<subject>``            the flag a rule raised on a subject (one per pair)
- ``fp/<project>/<flag>``            flags of a project (value ``1``)
- ``n/flags``                        the number of flags raised (flag ids count up)

A flag is handled as a case the raising department opens itself (依职权, service
``330100-JG-00NN``, subject: the flag id): the project's department explains it in the case's
``explain`` step and the raising department decides (approve: confirmed, reject: dismissed).
``link_case`` records the case on the flag, after checking it is that department's own case
about the flag; the handling itself is the case's timeline, nothing here.

This file is installed through the lifecycle contract: it runs in the contract sandbox. Its
checking functions are plain Python, so the service calls the same ones before it signs.
"""

from __future__ import annotations

from typing import Any

from govchain.sdk import Contract, Failed, entry, view

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
HEX = "0123456789abcdef"
ID_CHARS = "-" + DIGITS + UPPER
PAYEE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # the USCC alphabet (GB 32100-2015)
FUNDS = ("key_project", "public_welfare")
EVIDENCE_KINDS = ("photo", "acceptance", "invoice")
RULES = ("missing_evidence", "shared_payee", "peer_outlier", "isolation_forest")
SUBJECTS = ("disbursement", "payee", "project", "disbursement")  # of each rule, in order
MAX_BUDGET = 10**14
MAX_QUANTITY = 10**9
MAX_PAYEES = 20
MAX_MILESTONES = 20
MAX_RELATED = 20
MAX_DISBURSEMENTS = 999
MAX_PAGE = 1000
MAX_TEXT = 500  # a flag's handling texts go into its case: the case engine's longest note
MAX_INPUT_ITEMS = 2000
PROJECT_FIELDS = (
    "id",
    "name",
    "fund",
    "category",
    "unit",
    "quantity",
    "budget_fen",
    "start_date",
    "payees",
    "milestones",
    "related",
)


def text_problem(value: Any, shortest: int, longest: int) -> str:
    """Why ``value`` is not a text of ``shortest`` to ``longest`` characters ('' if it is)."""
    if not isinstance(value, str):
        return "must be a string"
    if len(value) < shortest or len(value) > longest:
        return f"must be {shortest} to {longest} characters long"
    if value.strip() != value:
        return "must not start or end with spaces"
    return ""


def amount_problem(value: Any, smallest: int, largest: int) -> str:
    """Why ``value`` is not an integer from ``smallest`` to ``largest`` ('' if it is)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer"
    if value < smallest or value > largest:
        return f"must be from {smallest} to {largest}"
    return ""


def date_problem(value: Any) -> str:
    """Why ``value`` is not a calendar date ``YYYY-MM-DD`` ('' if it is)."""
    if (
        not isinstance(value, str)
        or len(value) != 10
        or value[4] != "-"
        or value[7] != "-"
        or (value[:4] + value[5:7] + value[8:]).strip(DIGITS) != ""
    ):
        return "must be a date YYYY-MM-DD"
    y, m, d = int(value[:4]), int(value[5:7]), int(value[8:])
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if y < 1900 or m < 1 or m > 12 or d < 1 or d > days[m - 1]:
        return "is not a calendar date from 1900 on"
    return ""


def id_problem(value: Any, longest: int = 40) -> str:
    """Why ``value`` is not an id ``[A-Z][A-Z0-9-]{2,longest-1}`` ('' if it is)."""
    if (
        not isinstance(value, str)
        or not 2 <= len(value) <= longest
        or value[0] not in UPPER
        or value.strip(ID_CHARS) != ""
    ):
        return f"must be 2 to {longest} characters A-Z, 0-9 and '-', starting with a letter"
    return ""


def code_problem(value: Any) -> str:
    """Why ``value`` is not a code ``[a-z][a-z0-9_]{1,31}`` (department, category) ('' if it
    is)."""
    if (
        not isinstance(value, str)
        or not 2 <= len(value) <= 32
        or value[0] not in LOWER
        or value.strip(LOWER + DIGITS + "_") != ""
    ):
        return "must be a code: 2 to 32 characters a-z, 0-9 and '_', starting with a letter"
    return ""


def payee_problem(value: Any) -> str:
    """Why ``value`` is not a payee ``{id, name}`` (id: 18 characters of the USCC alphabet)."""
    if not isinstance(value, dict) or sorted(value) != ["id", "name"]:
        return "must be an object {id, name}"
    ident = value["id"]
    if not isinstance(ident, str) or len(ident) != 18 or ident.strip(PAYEE_CHARS) != "":
        return "id must be 18 characters of the unified social credit code alphabet"
    bad = text_problem(value["name"], 2, 100)
    return "name " + bad if bad else ""


def milestone_problem(value: Any) -> str:
    """Why ``value`` is not a milestone ``{id, name, amount_fen, due}`` ('' if it is)."""
    if not isinstance(value, dict) or sorted(value) != ["amount_fen", "due", "id", "name"]:
        return "must be an object {id, name, amount_fen, due}"
    bad = id_problem(value["id"], 16)
    if bad:
        return "id " + bad
    bad = text_problem(value["name"], 2, 100) or amount_problem(value["amount_fen"], 1, MAX_BUDGET)
    if bad:
        return "name and amount_fen: " + bad
    bad = date_problem(value["due"])
    return "due " + bad if bad else ""


def _list_problem(value: Any, fewest: int, most: int, check: Any, key: str) -> str:
    """Why ``value`` is not a list of ``fewest`` to ``most`` distinct (by ``key``) items."""
    if not isinstance(value, list) or not fewest <= len(value) <= most:
        return f"must be a list of {fewest} to {most} items"
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        bad = check(item)
        if bad:
            return f"item {i + 1} {bad}"
        name = item[key] if key else item
        if name in seen:
            return f"item {i + 1} repeats item {seen[name] + 1}"
        seen[name] = i
    return ""


def project_problems(obj: Any) -> list[list[str]]:
    """Return every ``[field, reason]`` that makes ``obj`` no acceptable project (empty: it
    is acceptable)."""
    if not isinstance(obj, dict):
        return [["", "a project must be a JSON object"]]
    found = [
        [str(k), "is not a field of a project"] for k in sorted(obj) if k not in PROJECT_FIELDS
    ]
    checks: dict[str, Any] = {
        "id": id_problem,
        "name": lambda v: text_problem(v, 2, 100),
        "fund": lambda v: "" if v in FUNDS else "must be one of " + ", ".join(FUNDS),
        "category": code_problem,
        "unit": lambda v: text_problem(v, 1, 20),
        "quantity": lambda v: amount_problem(v, 1, MAX_QUANTITY),
        "budget_fen": lambda v: amount_problem(v, 1, MAX_BUDGET),
        "start_date": date_problem,
        "payees": lambda v: _list_problem(v, 1, MAX_PAYEES, payee_problem, "id"),
        "milestones": lambda v: _list_problem(v, 1, MAX_MILESTONES, milestone_problem, "id"),
        "related": lambda v: _list_problem(v, 0, MAX_RELATED, id_problem, ""),
    }
    for name in PROJECT_FIELDS:
        bad = "is required" if name not in obj else checks[name](obj[name])
        if bad:
            found.append([name, bad])
    if not found:
        planned = 0
        for m in obj["milestones"]:
            planned += m["amount_fen"]
            if m["due"] < obj["start_date"]:
                found.append(["milestones", f"milestone {m['id']} is due before the start"])
        if planned != obj["budget_fen"]:
            found.append(
                [
                    "milestones",
                    f"the milestones plan {planned} fen; the budget is {obj['budget_fen']}",
                ]
            )
        if obj["id"] in obj["related"]:
            found.append(["related", "a project is not related to itself"])
    return found


def disbursement_problem(project: dict[str, Any], paid_fen: int, args: dict[str, Any]) -> str:
    """Why a disbursement ``args`` (``milestone``, ``payee``, ``amount_fen``, ``paid_on``,
    ``purpose``) may not be paid from ``project``, of which ``paid_fen`` is paid ('' if it
    may)."""
    if not [m for m in project["milestones"] if m["id"] == args.get("milestone")]:
        return f"milestone: {project['id']} has no milestone {args.get('milestone')!s}"
    if not [p for p in project["payees"] if p["id"] == args.get("payee")]:
        return f"payee: {args.get('payee')!s} is not a payee of {project['id']}"
    bad = amount_problem(args.get("amount_fen"), 1, MAX_BUDGET)
    if bad:
        return "amount_fen " + bad
    if paid_fen + args["amount_fen"] > project["budget_fen"]:
        return (
            f"amount_fen: {paid_fen} of {project['budget_fen']} fen are paid; "
            f"{args['amount_fen']} more would exceed the budget"
        )
    bad = date_problem(args.get("paid_on"))
    if bad:
        return "paid_on " + bad
    if args["paid_on"] < project["start_date"]:
        return "paid_on: before the project's start"
    bad = text_problem(args.get("purpose"), 2, 200)
    return "purpose " + bad if bad else ""


def inputs_problem(value: Any) -> str:
    """Why ``value`` is not a flag's inputs: a JSON object of integers, texts, booleans,
    lists and objects (no floats: nothing on-chain is one), within a size ('' if it is)."""
    if not isinstance(value, dict) or not value:
        return "must be a non-empty object"
    pending = [value]
    count = 0
    while pending:
        item = pending.pop()
        count += 1
        if count > MAX_INPUT_ITEMS:
            return f"must hold at most {MAX_INPUT_ITEMS} values"
        if isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, str) or len(k) > 64:
                    return "keys must be texts of at most 64 characters"
                pending.append(v)
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if len(item) > 300:
                return "texts must be at most 300 characters"
        elif not (item is None or isinstance(item, (int, bool))):
            return "must hold integers, texts, booleans, lists and objects only"
    return ""


def _serial(n: int, width: int) -> str:
    text = str(n)
    return "0" * (width - len(text)) + text


class Funds(Contract):
    """Projects, disbursements, evidence and anomaly flags with their cases."""

    def _stamp(self) -> dict[str, Any]:
        caller = self.ctx.caller
        return {
            "by": caller.member,
            "dept": caller.dept,
            "actor": caller.actor,
            "height": self.ctx.height,
            "time_ms": self.ctx.time_ms,
            "tx_id": self.ctx.tx_id,
        }

    def _project(self, project_id: Any) -> dict[str, Any]:
        found = self.ctx.get("p/" + project_id) if isinstance(project_id, str) else None
        if found is None:
            raise Failed("not_found", f"there is no project {project_id!s}")
        out: dict[str, Any] = found
        return out

    @entry
    def create_project(self, project: dict[str, Any]) -> dict[str, Any]:
        """Register a project; the caller's department owns it."""
        found = project_problems(project)
        if found:
            field, reason = found[0]
            raise Failed("bad_project", f"project.{field}: {reason}" if field else reason)
        if self.ctx.exists("p/" + project["id"]):
            raise Failed("exists", f"project {project['id']} is already registered")
        for other in project["related"]:
            if not self.ctx.exists("p/" + other):
                raise Failed("not_found", f"related: there is no project {other}")
        record = {name: project[name] for name in PROJECT_FIELDS}
        record.update(self._stamp())
        record["paid_fen"] = 0
        record["disbursements"] = 0
        self.ctx.put("p/" + record["id"], record)
        self.ctx.put(f"pk/{record['dept']}/{record['id']}", 1)
        self.ctx.emit("project", {"id": record["id"], "dept": record["dept"]})
        return {"id": record["id"], "height": record["height"]}

    @entry
    def add_evidence(
        self, project: str, milestone: str, digest: str, kind: str, title: str, stored: bool = False
    ) -> dict[str, Any]:
        """Notarise an evidence item of a milestone by its hash (the file stays off-chain,
        optionally in the node's content store)."""
        record = self._project(project)
        if not [m for m in record["milestones"] if m["id"] == milestone]:
            raise Failed("bad_evidence", f"milestone: {project} has no milestone {milestone!s}")
        if not isinstance(digest, str) or len(digest) != 64 or digest.strip(HEX) != "":
            raise Failed("bad_evidence", "digest: must be 64 lower-case hex characters")
        if kind not in EVIDENCE_KINDS:
            raise Failed("bad_evidence", "kind: must be one of " + ", ".join(EVIDENCE_KINDS))
        bad = text_problem(title, 2, 200)
        if bad or (stored is not True and stored is not False):
            raise Failed("bad_evidence", "title " + bad if bad else "stored: must be a boolean")
        if self.ctx.exists("v/" + digest):
            raise Failed("exists", f"{digest} is already notarised")
        item: dict[str, Any] = {
            "digest": digest,
            "project": project,
            "milestone": milestone,
            "kind": kind,
        }
        item.update({"title": title, "stored": stored})
        item.update(self._stamp())
        self.ctx.put("v/" + digest, item)
        self.ctx.put(f"pv/{project}/{milestone}/{digest}", 1)
        self.ctx.emit("evidence", {"digest": digest, "project": project, "milestone": milestone})
        return {"digest": digest, "height": item["height"]}

    @entry
    def disburse(
        self,
        project: str,
        milestone: str,
        payee: str,
        amount_fen: int,
        paid_on: str,
        purpose: str,
    ) -> dict[str, Any]:
        """Record a disbursement from a project's budget to one of its payees for a milestone
        (refused over the budget)."""
        record = self._project(project)
        if record["disbursements"] >= MAX_DISBURSEMENTS:
            raise Failed("bad_disbursement", f"{project} has {MAX_DISBURSEMENTS} disbursements")
        args = {"milestone": milestone, "payee": payee, "amount_fen": amount_fen}
        args.update({"paid_on": paid_on, "purpose": purpose})
        bad = disbursement_problem(record, record["paid_fen"], args)
        if bad:
            raise Failed("bad_disbursement", bad)
        number = record["disbursements"] + 1
        ident = project + "-D" + _serial(number, 3)
        item = {"id": ident, "project": project, **args}
        item.update(self._stamp())
        self.ctx.put("x/" + ident, item)
        self.ctx.put(f"px/{project}/{ident}", 1)
        record["paid_fen"] += amount_fen
        record["disbursements"] = number
        self.ctx.put("p/" + project, record)
        self.ctx.emit("disbursed", {"id": ident, "project": project, "amount_fen": amount_fen})
        return {"id": ident, "height": item["height"], "paid_fen": record["paid_fen"]}

    @entry
    def raise_flag(
        self,
        rule: str,
        subject: str,
        projects: list[str],
        inputs: dict[str, Any],
        index_height: int,
    ) -> dict[str, Any]:
        """Record an anomaly flag with the inputs that raised it (a rule's figures, or the
        detector's score and features) and the analytics index height they were read at; a
        rule flags a subject once."""
        if rule not in RULES:
            raise Failed("bad_flag", "rule: must be one of " + ", ".join(RULES))
        if not isinstance(subject, str) or not 2 <= len(subject) <= 64:
            raise Failed("bad_flag", "subject: must be an id of 2 to 64 characters")
        kind = SUBJECTS[RULES.index(rule)]
        if kind == "disbursement" and not self.ctx.exists("x/" + subject):
            raise Failed("not_found", f"subject: there is no disbursement {subject}")
        if kind == "project" and not self.ctx.exists("p/" + subject):
            raise Failed("not_found", f"subject: there is no project {subject}")
        if kind == "payee" and payee_problem({"id": subject, "name": "payee"}):
            raise Failed("bad_flag", "subject: must be a payee id")
        bad = _list_problem(projects, 1, MAX_RELATED, id_problem, "")
        if bad:
            raise Failed("bad_flag", "projects " + bad)
        owners: list[str] = []
        for p in projects:
            owner = self._project(p)["dept"]
            if owner not in owners:
                owners.append(owner)
        bad = inputs_problem(inputs) or amount_problem(index_height, 0, 10**15)
        if bad:
            raise Failed("bad_flag", "inputs or index_height: " + bad)
        if index_height > self.ctx.height:
            raise Failed("bad_flag", "index_height: the index cannot be ahead of the ledger")
        taken = self.ctx.get(f"fk/{rule}/{subject}")
        if taken is not None:
            raise Failed("exists", f"{rule} already flagged {subject}: {taken}")
        number = (self.ctx.get("n/flags") or 0) + 1
        ident = "F" + _serial(number, 6)
        flag: dict[str, Any] = {"id": ident, "rule": rule, "subject_kind": kind, "subject": subject}
        flag.update({"projects": list(projects), "owners": owners, "inputs": inputs})
        flag.update({"index_height": index_height, "case": ""})
        flag.update(self._stamp())
        self.ctx.put("n/flags", number)
        self.ctx.put("f/" + ident, flag)
        self.ctx.put(f"fk/{rule}/{subject}", ident)
        for p in projects:
            self.ctx.put(f"fp/{p}/{ident}", 1)
        self.ctx.emit("flagged", {"id": ident, "rule": rule, "subject": subject})
        return {"id": ident, "height": flag["height"]}

    @entry
    def link_case(self, flag: str, case: str) -> dict[str, Any]:
        """Record the case that handles a flag (by the department that raised it): a case it
        opened itself about the flag, and the flag's only one."""
        found = self.ctx.get("f/" + flag) if isinstance(flag, str) and flag else None
        if found is None:
            raise Failed("not_found", f"there is no flag {flag!s}")
        if self.ctx.caller.dept != found["dept"]:
            raise Failed("not_allowed", f"only {found['dept']}, which raised it, opens its case")
        if found["case"]:
            raise Failed("exists", f"flag {flag} is handled in case {found['case']}")
        try:
            opened = self.ctx.read("cases", "case", {"case": case})
        except Exception:
            raise Failed("not_found", f"there is no case {case!s}") from None
        if (
            opened["applicant_kind"] != "department"
            or opened["subject"] != flag
            or opened["history"][0]["dept"] != found["dept"]
        ):
            raise Failed("wrong_case", f"case {case} is not {found['dept']}'s case about {flag}")
        found["case"] = case
        self.ctx.put("f/" + flag, found)
        self.ctx.emit("case_opened", {"id": flag, "case": case})
        return {"id": flag, "case": case, "height": self.ctx.height}

    @view
    def project(self, project_id: str) -> dict[str, Any] | None:
        """Return a project (``None`` if there is none)."""
        found: dict[str, Any] | None = self.ctx.get("p/" + project_id) if project_id else None
        return found

    @view
    def disbursement(self, disbursement_id: str) -> dict[str, Any] | None:
        """Return a disbursement (``None`` if there is none)."""
        found: dict[str, Any] | None = (
            self.ctx.get("x/" + disbursement_id) if disbursement_id else None
        )
        return found

    @view
    def evidence(self, digest: str) -> dict[str, Any] | None:
        """Return a notarised evidence item (``None`` if there is none)."""
        found: dict[str, Any] | None = self.ctx.get("v/" + digest) if digest else None
        return found

    @view
    def flag(self, flag_id: str) -> dict[str, Any] | None:
        """Return a flag with its inputs and its case (``None`` if there is none)."""
        found: dict[str, Any] | None = self.ctx.get("f/" + flag_id) if flag_id else None
        return found

    @view
    def flags(self, limit: int = 100) -> list[dict[str, Any]]:
        """Return up to ``limit`` flags, in id order (their handling is their cases')."""
        if not 1 <= limit <= MAX_PAGE:
            raise Failed("bad_limit", f"limit must be 1 to {MAX_PAGE}")
        return [v for _, v in self.ctx.scan("f/", limit)]
