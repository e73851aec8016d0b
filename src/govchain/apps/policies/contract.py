"""Enterprise support policies (惠企政策): the rule language's evaluator, the attested facts it
reads, publication by approval, and grants without an application (免申即享).

This file runs in the contract sandbox and is imported as a plain module by the service, the
lint and the bulk matcher: there is one scalar evaluator (``evaluate``), and the decision a
node records is the one the portal explains. The sandbox forbids imports, sets and floats, so
the evaluator is written with dicts, tuples and integers only; and a contract package is this
one file, so the attribute table, the rule language and the contract share it (the lint's
range reasoning, the trace and the catalogue's labels are in ``rules.py`` and
``attributes.py``, off-chain).

State keys (under ``c/policies/``):

- ``p/<id>``              a policy: its text, status (proposed / published / withdrawn),
                          version, proposer and approver
- ``f/<uscc>/<attr>``     the current attested value of an attribute of an enterprise
- ``a/<attestation id>``  an attestation (value, department, time, expiry, revocation)
- ``g/<policy>/<uscc>``   a grant decided without an application, with its case (办件 the
                          issuer opened, ``opened_by`` department) and the facts relied on
- ``ge/<uscc>/<policy>``  index of an enterprise's grants (value ``1``)
- ``b/<policy>``          the amount granted so far under a policy (fen)
"""

from __future__ import annotations

from typing import Any

from govchain.sdk import Contract, Failed, entry, view

# --- the attribute catalogue: (name, kind, holder, minimum, maximum, values) -------------------
# kind: "int" (integers: fen, basis points, counts, years), "bool", "enum" (one of values).
# holder "registry": read from the enterprise registry at decision time, not attested here.
SECTIONS = "ABCDEFGHIJKLMNOPQRST"
# First GB/T 4754-2017 division of each section A..T (the last, 97, closes section T).
SECTION_STARTS = (1, 6, 13, 44, 47, 51, 53, 61, 63, 66, 70, 71, 73, 76, 80, 83, 84, 86, 91, 97)
DISTRICTS = (
    "330100", "330102", "330105", "330106", "330108", "330109", "330110", "330111", "330112",
    "330113", "330114", "330122", "330127", "330182",
)  # fmt: skip
MONEY_MAX = 10**15
ATTRIBUTES = (
    ("industry_section", "enum", "registry", 0, 0, tuple(SECTIONS)),
    ("industry_division", "int", "registry", 1, 97, ()),
    ("district", "enum", "registry", 0, 0, DISTRICTS),
    ("years_in_business", "int", "registry", 0, 200, ()),
    ("registered_capital_fen", "int", "registry", 0, MONEY_MAX, ()),
    ("size_class", "enum", "market", 0, 0, ("micro", "small", "medium", "large")),
    ("revenue_fen", "int", "tax", 0, MONEY_MAX, ()),
    ("tax_paid_fen", "int", "tax", 0, MONEY_MAX, ()),
    ("rd_expense_fen", "int", "tax", 0, MONEY_MAX, ()),
    ("rd_share_bps", "int", "tax", 0, 10000, ()),
    ("tax_credit_rating", "enum", "tax", 0, 0, ("A", "B", "M", "C", "D")),
    ("high_tech", "bool", "tax", 0, 1, ()),
    ("tax_arrears", "bool", "tax", 0, 1, ()),
    ("employees", "int", "hrss", 0, 10**7, ()),
    ("graduates_hired", "int", "hrss", 0, 10**6, ()),
    ("social_insurance_arrears", "bool", "hrss", 0, 1, ()),
    ("export_fen", "int", "customs", 0, MONEY_MAX, ()),
    ("aeo_certified", "bool", "customs", 0, 1, ()),
)
CODES = ("industry_section", "industry_division", "district")
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
ARITHMETIC = ("+", "-", "*", "min", "max", "bps")
MAX_DEPTH = 12
MAX_NODES = 400
MAX_LIST = 64
MODES = ("application", "automatic")
STATUSES = ("proposed", "published", "withdrawn")
DAY_MS = 86_400_000
UTC8_MS = 8 * 3_600_000
MAX_FACTS = 500
LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"


NAMES = tuple(row[0] for row in ATTRIBUTES)
BOOLEANS = tuple(row[0] for row in ATTRIBUTES if row[1] == "bool")


def attribute(name: Any) -> tuple[Any, ...] | None:
    """The catalogue row of attribute ``name`` (``None`` if there is none)."""
    if isinstance(name, str) and name in NAMES:
        return ATTRIBUTES[NAMES.index(name)]
    return None


def is_int(v: Any) -> bool:
    """Whether ``v`` is an integer (and not a boolean)."""
    return isinstance(v, int) and not isinstance(v, bool)


# --- the rule language: checking ---------------------------------------------------------------


def rule_type(node: Any, path: str, depth: int = 0) -> str:
    """Return the type of rule expression ``node`` ("int", "bool", "enum:<attr>", "str",
    "list:int" or "list:str"); raise ``Failed("bad_rule", "<path>: <reason>")`` if it is not
    a well-typed expression of the language."""
    if depth > MAX_DEPTH:
        raise Failed("bad_rule", f"{path}: nested more than {MAX_DEPTH} deep")
    if isinstance(node, bool):
        return "bool"
    if is_int(node):
        return "int"
    if isinstance(node, str):
        return "str"
    if isinstance(node, list):
        if not 1 <= len(node) <= MAX_LIST:
            raise Failed("bad_rule", f"{path}: a list holds 1 to {MAX_LIST} values")
        if all(is_int(v) for v in node):
            return "list:int"
        if all(isinstance(v, str) for v in node):
            return "list:str"
        raise Failed("bad_rule", f"{path}: a list holds integers only or texts only")
    if not isinstance(node, dict) or len(node) != 1:
        raise Failed("bad_rule", f"{path}: an operation is an object with one operator")
    (op,) = node
    args = node[op]
    where = f"{path}.{op}"
    if op == "var":
        row = attribute(args)
        if row is None:
            raise Failed("bad_rule", f"{where}: unknown attribute {args!r}")
        return str("enum:" + row[0] if row[1] == "enum" else row[1])
    if op in ("!", "not") and not isinstance(args, list):
        args = [args]
    if not isinstance(args, list) or not args:
        raise Failed("bad_rule", f"{where}: the arguments are a non-empty list")
    types = [rule_type(a, f"{where}[{i}]", depth + 1) for i, a in enumerate(args)]
    n = len(args)
    if op in ("and", "or", "!", "not"):
        if (op in ("!", "not") and n != 1) or any(t != "bool" for t in types):
            raise Failed("bad_rule", f"{where}: takes conditions" + (" (one)" if n != 1 else ""))
        return "bool"
    if op == "if":
        if n < 3 or n % 2 == 0:
            raise Failed("bad_rule", f"{where}: takes [condition, then, ..., else]")
        for i in range(0, n - 1, 2):
            if types[i] != "bool":
                raise Failed("bad_rule", f"{where}[{i}]: must be a condition")
        results = [types[i] for i in range(1, n, 2)] + [types[n - 1]]
        if any(t != results[0] for t in results) or results[0] not in ("int", "bool"):
            raise Failed("bad_rule", f"{where}: every branch is an integer, or every a condition")
        return results[0]
    if op in COMPARISONS:
        return comparison_type(op, args, types, where)
    if op == "in":
        if n != 2 or not types[1].startswith("list:"):
            raise Failed("bad_rule", f"{where}: takes [value, [list of values]]")
        if types[0] == "int" and types[1] == "list:int":
            return "bool"
        if types[0].startswith("enum:") and types[1] == "list:str":
            for v in args[1]:
                enum_check(types[0], v, where)
            return "bool"
        raise Failed("bad_rule", f"{where}: {types[0]} is not compared with {types[1]}")
    if op in ARITHMETIC:
        if any(t != "int" for t in types):
            raise Failed("bad_rule", f"{where}: arithmetic takes integers")
        if (op == "-" and n > 2) or (op == "bps" and n != 2):
            raise Failed("bad_rule", f"{where}: takes {'one or two' if op == '-' else 'two'}")
        return "int"
    raise Failed("bad_rule", f"{where}: unknown operator {op!r}")


def enum_check(t: str, value: Any, where: str) -> None:
    """Refuse ``value`` unless it is a value of the enum type ``t``."""
    row = attribute(t[5:])
    if row is None or value not in row[5]:
        allowed = ", ".join(row[5]) if row else ""
        raise Failed("bad_rule", f"{where}: {value!r} is not a value of {t[5:]} ({allowed})")


def comparison_type(op: str, args: list[Any], types: list[str], where: str) -> str:
    """Check a comparison's operands (ordering: integers; a three-operand ``<`` / ``<=`` is a
    range); return "bool"."""
    n = len(args)
    if n == 3 and op in ("<", "<="):
        if any(t != "int" for t in types):
            raise Failed("bad_rule", f"{where}: a range compares integers")
        return "bool"
    if n != 2:
        raise Failed("bad_rule", f"{where}: compares two values")
    a, b = types
    if op in ("==", "!=") and a.startswith("enum:") and b == "str":
        enum_check(a, args[1], where)
        return "bool"
    if op in ("==", "!=") and b.startswith("enum:") and a == "str":
        enum_check(b, args[0], where)
        return "bool"
    if a == b == "int" or (op in ("==", "!=") and a == b == "bool"):
        return "bool"
    raise Failed("bad_rule", f"{where}: {a} and {b} do not compare with {op}")


def count_nodes(node: Any) -> int:
    """Number of operations and values in an expression."""
    if isinstance(node, dict):
        return 1 + sum(count_nodes(v) for v in node.values())
    if isinstance(node, list):
        return 1 + sum(count_nodes(v) for v in node)
    return 1


# --- the rule language: evaluating -------------------------------------------------------------


def evaluate(node: Any, facts: dict[str, Any]) -> Any:
    """Evaluate a checked expression over ``facts`` (attribute -> value; a missing fact is
    absent). An integer expression over a missing fact is ``None``; a comparison with
    ``None`` on either side is false whatever the operator; a missing yes/no fact is false.
    Every operand is evaluated (no short cut), as the bulk matcher does."""
    if not isinstance(node, dict):
        return node
    (op,) = node  # an operation has exactly one key
    args = node[op]
    if op == "var":
        if args in BOOLEANS:
            return facts.get(args) is True
        return facts.get(args)
    if op in COMPARISONS and len(args) == 2:
        # The common case, without building the operand list (what most clauses are).
        a = evaluate(args[0], facts)
        b = evaluate(args[1], facts)
        if a is None or b is None:
            return False
        if op == ">=":
            return a >= b
        if op == "==":
            return a == b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        if op == "<":
            return a < b
        return a != b
    if op in ("!", "not"):
        return not evaluate(args[0] if isinstance(args, list) else args, facts)
    values = [evaluate(a, facts) for a in args]
    if op == "and":
        return all(values)
    if op == "or":
        return any(values)
    if op == "if":
        for i in range(0, len(values) - 1, 2):
            if values[i]:
                return values[i + 1]
        return values[-1]
    if op in COMPARISONS or op == "in":
        return compare(op, values)
    if None in values:
        return None
    if op == "+":
        return sum(values)
    if op == "-":
        return -values[0] if len(values) == 1 else values[0] - values[1]
    if op == "*":
        product = 1
        for v in values:
            product = product * v
        return product
    if op == "min":
        return min(values)
    if op == "max":
        return max(values)
    return values[0] * values[1] // 10000  # bps: floor of amount x rate / 10,000


def compare(op: str, values: list[Any]) -> bool:
    """Apply a comparison (or ``in``) to evaluated operands (false if one is missing)."""
    if None in values:
        return False
    if op == "in":
        return bool(values[0] in values[1])
    a, b = values[0], values[1]
    if len(values) == 3:
        c = values[2]
        return bool(a < b < c if op == "<" else a <= b <= c)
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def variables(node: Any, found: list[str]) -> list[str]:
    """Append to ``found`` the attributes ``node`` reads (each once, in reading order)."""
    if isinstance(node, dict):
        (op,) = node
        if op == "var":
            if node[op] not in found:
                found.append(node[op])
            return found
        args = node[op]
        for a in args if isinstance(args, list) else [args]:
            variables(a, found)
    return found


def gap_of(node: Any, facts: dict[str, Any]) -> int | None:
    """By how much the side of a failing integer comparison that reads attributes must change
    for it to hold (positive: increase); ``None`` if it holds, is not such a comparison, reads
    a code (``CODES``), a fact is missing, or both sides read attributes."""
    if not isinstance(node, dict):
        return None
    (op,) = node
    args = node[op]
    if op not in ("<", "<=", ">", ">=", "==") or not isinstance(args, list):
        return None
    # A code (an industry division) is not a quantity: being "9 away" from it means nothing.
    if any(name in CODES for name in variables(node, [])):
        return None
    values = [evaluate(a, facts) for a in args]
    if any(not is_int(v) for v in values) or compare(op, values):
        return None
    reads = [len(variables(a, [])) > 0 for a in args]
    if len(args) == 3:
        if reads[0] or reads[2] or not reads[1]:
            return None
        lo = values[0] + (1 if op == "<" else 0)
        hi = values[2] - (1 if op == "<" else 0)
        return int(lo - values[1] if values[1] < lo else hi - values[1])
    if reads[0] == reads[1]:
        return None
    a, b = values
    strict = 1 if op in ("<", ">") else 0
    # Written as "attribute OP limit": raise (>, >=, ==) or lower (<, <=) the attribute.
    if reads[1]:
        a, b = b, a
        op = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}[op]
    if op in (">", ">=", "=="):
        return int(b - a + strict)
    return int(b - a - strict)


def clauses_of(rule: Any) -> list[Any]:
    """The top-level clauses of an eligibility rule: the operands of a top-level ``and``, or
    the rule itself."""
    if isinstance(rule, dict) and "and" in rule and isinstance(rule["and"], list):
        return list(rule["and"])
    return [rule]


def benefit_expression(benefit: dict[str, Any]) -> Any:
    """The benefit as one integer expression: ``formula``, or tiers as an ``if`` chain (the
    first tier that holds; 0 if none does)."""
    if "formula" in benefit:
        return benefit["formula"]
    chain: list[Any] = []
    for tier in benefit["tiers"]:
        chain.append(tier["when"])
        chain.append(tier["amount"])
    chain.append(0)
    return {"if": chain}


def benefit_of(benefit: dict[str, Any], facts: dict[str, Any]) -> int:
    """The benefit in fen: the expression's value, at least 0, at most the cap (0 if a fact it
    needs is missing)."""
    value = evaluate(benefit_expression(benefit), facts)
    if value is None or value < 0:
        return 0
    return int(min(value, benefit["cap_fen"]))


def assess(policy: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """The outcome of a policy for an enterprise: ``status`` (qualifies / nearly: exactly one
    clause fails / not), the failing clause's index and gap, and the benefit in fen."""
    clauses = clauses_of(policy["eligibility"])
    failing = [i for i, c in enumerate(clauses) if evaluate(c, facts) is not True]
    status = "qualifies" if not failing else ("nearly" if len(failing) == 1 else "not")
    out: dict[str, Any] = {
        "status": status,
        "failing": failing,
        "gap": None,
        "benefit_fen": benefit_of(policy["benefit"], facts),
    }
    if status == "nearly":
        out["gap"] = gap_of(clauses[failing[0]], facts)
    return out


# --- policies ----------------------------------------------------------------------------------

POLICY_FIELDS = (
    "id", "title", "issuer", "approvers", "level", "document", "valid_from", "valid_until",
    "mode", "eligibility", "benefit", "budget_fen", "summary", "category",
)  # fmt: skip


def date_problem(value: Any) -> str:
    """Why ``value`` is not a date ``YYYY-MM-DD`` ('' if it is)."""
    if (
        not isinstance(value, str)
        or len(value) != 10
        or value[4] != "-"
        or value[7] != "-"
        or (value[:4] + value[5:7] + value[8:]).strip(DIGITS) != ""
    ):
        return "must be a date YYYY-MM-DD"
    m, d = int(value[5:7]), int(value[8:])
    if m < 1 or m > 12 or d < 1 or d > 31:
        return "is not a calendar date"
    return ""


def text_problem(value: Any, longest: int) -> str:
    """Why ``value`` is not a text of 1 to ``longest`` characters ('' if it is)."""
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        return f"must be a text of 1 to {longest} characters"
    return ""


def bilingual_problem(value: Any, longest: int) -> str:
    """Why ``value`` is not ``{"zh": text, "en": text}`` ('' if it is)."""
    if not isinstance(value, dict) or sorted(value) != ["en", "zh"]:
        return "must be {zh, en}"
    return text_problem(value["zh"], longest) or text_problem(value["en"], longest)


def dept_problem(value: Any) -> str:
    """Why ``value`` is not a department code ('' if it is)."""
    if not isinstance(value, str) or not 2 <= len(value) <= 32 or value.strip(LOWER + "_"):
        return "must be a department code"
    return ""


def policy_problem(p: Any) -> str:
    """Why ``p`` is not a well-formed policy, as ``"field: reason"`` ('' if it is). Checks
    shape and types; ``rules.lint`` adds the checks that need reasoning over ranges."""
    if not isinstance(p, dict):
        return "policy: must be an object"
    for k in sorted(p):
        if k not in POLICY_FIELDS:
            return f"{k}: is not a field of a policy"
    for k in POLICY_FIELDS:
        if k not in p:
            return f"{k}: is required"
    ident = p["id"]
    if not isinstance(ident, str) or not 3 <= len(ident) <= 40 or ident.strip(DIGITS + LOWER + "-"):
        return "id: must be 3 to 40 characters a-z, 0-9 and '-'"
    checks = (
        ("title", bilingual_problem(p["title"], 200)),
        ("summary", bilingual_problem(p["summary"], 2000)),
        ("issuer", dept_problem(p["issuer"])),
        ("level", "" if p["level"] in ("provincial", "municipal", "district") else "bad level"),
        ("category", text_problem(p["category"], 40)),
        ("valid_from", date_problem(p["valid_from"])),
        ("valid_until", date_problem(p["valid_until"])),
        ("mode", "" if p["mode"] in MODES else "must be application or automatic"),
    )
    for name, bad in checks:
        if bad:
            return f"{name}: {bad}"
    if p["valid_until"] < p["valid_from"]:
        return "valid_until: is before valid_from"
    doc = p["document"]
    if (
        not isinstance(doc, dict)
        or sorted(doc) != ["date", "number", "title"]
        or text_problem(doc["number"], 80)
        or text_problem(doc["title"], 200)
        or date_problem(doc["date"])
    ):
        return "document: must be {number, title, date}"
    approvers = p["approvers"]
    if (
        not isinstance(approvers, list)
        or len(approvers) > 8
        or any(dept_problem(a) for a in approvers)
    ):
        return "approvers: must be a list of department codes"
    if not is_int(p["budget_fen"]) or not 0 <= p["budget_fen"] <= MONEY_MAX:
        return "budget_fen: must be an integer from 0 (no limit) to 10^15"
    # The type check first: it refuses a rule nested too deep before anything walks it all.
    if rule_type(p["eligibility"], "eligibility") != "bool":
        return "eligibility: must be a condition"
    if count_nodes(p["eligibility"]) > MAX_NODES:
        return f"eligibility: more than {MAX_NODES} nodes"
    return benefit_problem(p["benefit"])


def benefit_problem(b: Any) -> str:
    """Why ``b`` is not a benefit: ``{formula, cap_fen}`` or ``{tiers: [{when, amount}],
    cap_fen}`` ('' if it is)."""
    if not isinstance(b, dict) or "cap_fen" not in b or len(b) != 2:
        return "benefit: must be {formula, cap_fen} or {tiers, cap_fen}"
    if not is_int(b["cap_fen"]) or not 0 <= b["cap_fen"] <= MONEY_MAX:
        return "benefit.cap_fen: must be an integer of fen"
    if "formula" in b:
        if rule_type(b["formula"], "benefit.formula") != "int":
            return "benefit.formula: must be an integer expression (fen)"
        return ""
    tiers = b.get("tiers")
    if not isinstance(tiers, list) or not 1 <= len(tiers) <= 20:
        return "benefit.tiers: must be a list of 1 to 20 tiers"
    for i, t in enumerate(tiers):
        if not isinstance(t, dict) or sorted(t) != ["amount", "when"]:
            return f"benefit.tiers[{i}]: must be {{when, amount}}"
        if rule_type(t["when"], f"benefit.tiers[{i}].when") != "bool":
            return f"benefit.tiers[{i}].when: must be a condition"
        if rule_type(t["amount"], f"benefit.tiers[{i}].amount") != "int":
            return f"benefit.tiers[{i}].amount: must be an integer expression (fen)"
    return ""


# --- dates and the registry's attributes -------------------------------------------------------


def civil_date(ms: int) -> str:
    """The date (Beijing time, UTC+8) of a time in ms since the epoch, as ``YYYY-MM-DD``
    (the days-to-civil algorithm, integers only)."""
    z = (ms + UTC8_MS) // DAY_MS + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return str(y) + "-" + str(100 + m)[1:] + "-" + str(100 + d)[1:]


def full_years(since: str, on: str) -> int:
    """Whole years from date ``since`` to date ``on`` (both ``YYYY-MM-DD``; 0 if not later)."""
    years = int(on[:4]) - int(since[:4]) - (1 if on[5:] < since[5:] else 0)
    return max(years, 0)


def registry_facts(record: dict[str, Any], on: str) -> dict[str, Any]:
    """The registry's attributes of an enterprise record on date ``on``."""
    facts: dict[str, Any] = {}
    code = record.get("industry", "")
    if isinstance(code, str) and len(code) >= 2 and code[:2].strip(DIGITS) == "":
        division = int(code[:2])
        facts["industry_division"] = division
        section = 0
        for i, start in enumerate(SECTION_STARTS):
            if division >= start:
                section = i
        facts["industry_section"] = SECTIONS[section]
    elif isinstance(code, str) and len(code) == 1 and code in SECTIONS:
        facts["industry_section"] = code
    if record.get("division") in DISTRICTS:
        facts["district"] = record["division"]
    if is_int(record.get("established_ms")):
        facts["years_in_business"] = full_years(civil_date(record["established_ms"]), on)
    if is_int(record.get("capital_fen")):
        facts["registered_capital_fen"] = record["capital_fen"]
    return facts


def fact_problem(attr: Any, value: Any) -> str:
    """Why ``value`` is not a value of attested attribute ``attr`` ('' if it is)."""
    row = attribute(attr)
    if row is None or row[2] == "registry":
        return f"{attr!r} is not an attested attribute"
    if row[1] == "bool":
        return "" if isinstance(value, bool) else f"{attr} is true or false"
    if row[1] == "enum":
        return "" if value in row[5] else f"{attr} is one of " + ", ".join(row[5])
    if not is_int(value) or not row[3] <= value <= row[4]:
        return f"{attr} is an integer from {row[3]} to {row[4]}"
    return ""


class Policies(Contract):
    """Policies published by approval, attested enterprise facts, and grants decided on
    them without an application."""

    # --- publication --------------------------------------------------------------------------

    @entry
    def propose(self, policy: dict[str, Any]) -> dict[str, Any]:
        """Propose a policy (new, or a new version of one not yet approved or withdrawn) for
        the caller's department, which must be its issuer."""
        bad = policy_problem(policy)
        if bad:
            raise Failed("bad_policy", bad)
        caller = self.ctx.caller
        if policy["issuer"] != caller.dept:
            raise Failed(
                "not_issuer", f"{caller.dept} does not issue policies of {policy['issuer']}"
            )
        old = self.ctx.get("p/" + policy["id"])
        if old is not None and old["status"] == "published":
            raise Failed("published", f"{policy['id']} is published: withdraw it first")
        record = {
            "policy": policy,
            "status": "proposed",
            "version": 1 if old is None else old["version"] + 1,
            "proposed_by": caller.actor,
            "proposed_tx": self.ctx.tx_id,
            "proposed_ms": self.ctx.time_ms,
            "approved_by": "",
            "approved_dept": "",
            "approved_ms": 0,
            "approved_tx": "",
            "reason": "",
        }
        self.ctx.put("p/" + policy["id"], record)
        self.ctx.emit("proposed", {"id": policy["id"], "version": record["version"]})
        return {"id": policy["id"], "version": record["version"], "tx_id": self.ctx.tx_id}

    @entry
    def approve(self, policy_id: str, version: int) -> dict[str, Any]:
        """Approve and publish the proposed ``version`` of a policy: a person other than its
        proposer, of its issuing department or of one of its co-approving departments."""
        record = self._policy(policy_id)
        caller = self.ctx.caller
        policy = record["policy"]
        if record["status"] != "proposed" or record["version"] != version:
            raise Failed("not_proposed", f"{policy_id} version {version} is not the proposal")
        if caller.dept != policy["issuer"] and caller.dept not in policy["approvers"]:
            raise Failed("not_approver", f"{caller.dept} may not approve {policy_id}")
        if caller.actor == record["proposed_by"]:
            raise Failed("same_person", "the proposer does not approve their own policy")
        record.update(
            status="published",
            approved_by=caller.actor,
            approved_dept=caller.dept,
            approved_ms=self.ctx.time_ms,
            approved_tx=self.ctx.tx_id,
        )
        self.ctx.put("p/" + policy_id, record)
        self.ctx.emit("published", {"id": policy_id, "version": version, "mode": policy["mode"]})
        return {"id": policy_id, "version": version, "status": "published"}

    @entry
    def withdraw(self, policy_id: str, reason: str) -> dict[str, Any]:
        """Withdraw a policy (its issuing department); grants already made stand."""
        record = self._policy(policy_id)
        if record["policy"]["issuer"] != self.ctx.caller.dept:
            raise Failed("not_issuer", f"only {record['policy']['issuer']} withdraws {policy_id}")
        if text_problem(reason, 500):
            raise Failed("bad_reason", "reason: " + text_problem(reason, 500))
        record.update(status="withdrawn", reason=reason)
        self.ctx.put("p/" + policy_id, record)
        self.ctx.emit("withdrawn", {"id": policy_id})
        return {"id": policy_id, "status": "withdrawn"}

    def _policy(self, policy_id: Any) -> dict[str, Any]:
        found = self.ctx.get("p/" + policy_id) if isinstance(policy_id, str) and policy_id else None
        if found is None:
            raise Failed("not_found", f"there is no policy {policy_id}")
        record: dict[str, Any] = found
        return record

    # --- facts --------------------------------------------------------------------------------

    @entry
    def attest(self, facts: list[Any], valid_days: int = 366) -> dict[str, Any]:
        """Record values of enterprise attributes the caller's department holds (``[{uscc,
        attribute, value}]``), valid for ``valid_days``; each supersedes the previous one."""
        if not isinstance(facts, list) or not 1 <= len(facts) <= MAX_FACTS:
            raise Failed("bad_facts", f"facts must be a list of 1 to {MAX_FACTS}")
        if not is_int(valid_days) or not 1 <= valid_days <= 3660:
            raise Failed("bad_facts", "valid_days must be 1 to 3660")
        caller = self.ctx.caller
        ids = []
        usccs: list[str] = []
        for i, f in enumerate(facts):
            if not isinstance(f, dict) or sorted(f) != ["attribute", "uscc", "value"]:
                raise Failed("bad_facts", f"facts[{i}] must be {{uscc, attribute, value}}")
            uscc, attr, value = f["uscc"], f["attribute"], f["value"]
            if not isinstance(uscc, str) or len(uscc) != 18:
                raise Failed("bad_facts", f"facts[{i}].uscc must be a USCC")
            bad = fact_problem(attr, value)
            if bad:
                raise Failed("bad_facts", f"facts[{i}]: {bad}")
            holder = attribute(attr)[2]  # type: ignore[index]
            if holder != caller.dept:
                raise Failed("not_holder", f"facts[{i}]: {attr} is attested by {holder}")
            att_id = self.ctx.tx_id[:32] + "-" + str(i)
            previous = self.ctx.get(f"f/{uscc}/{attr}")
            att = {
                "id": att_id,
                "uscc": uscc,
                "attribute": attr,
                "value": value,
                "dept": caller.dept,
                "by": caller.actor,
                "issued_ms": self.ctx.time_ms,
                "expires_ms": self.ctx.time_ms + valid_days * DAY_MS,
                "revoked": "",
                "previous": "" if previous is None else previous["id"],
                "tx_id": self.ctx.tx_id,
            }
            self.ctx.put("a/" + att_id, att)
            self.ctx.put(f"f/{uscc}/{attr}", att)
            ids.append(att_id)
            if uscc not in usccs:
                usccs.append(uscc)
        self.ctx.emit("attested", {"usccs": usccs, "count": len(ids)})
        return {"ids": ids, "usccs": usccs}

    @entry
    def revoke(self, attestation: str, reason: str) -> dict[str, Any]:
        """Revoke an attestation (its department): the fact is missing from now on."""
        att = self.ctx.get("a/" + attestation) if isinstance(attestation, str) else None
        if att is None:
            raise Failed("not_found", f"there is no attestation {attestation}")
        if att["dept"] != self.ctx.caller.dept:
            raise Failed("not_holder", f"only {att['dept']} revokes {attestation}")
        if att["revoked"]:
            raise Failed("revoked", f"{attestation} is already revoked")
        if text_problem(reason, 500):
            raise Failed("bad_reason", "reason: " + text_problem(reason, 500))
        att["revoked"] = reason
        att["revoked_ms"] = self.ctx.time_ms
        self.ctx.put("a/" + attestation, att)
        current = self.ctx.get(f"f/{att['uscc']}/{att['attribute']}")
        if current is not None and current["id"] == attestation:
            self.ctx.put(f"f/{att['uscc']}/{att['attribute']}", att)
        self.ctx.emit("revoked", {"id": attestation, "usccs": [att["uscc"]]})
        return {"id": attestation, "revoked": reason}

    def _facts(self, uscc: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The enterprise's attributes now (registry + live attestations) and where each came
        from (``{attr: {dept, attestation}}``)."""
        try:
            record = self.ctx.read("registry", "enterprise", {"uscc": uscc})
        except Exception:
            raise Failed("no_enterprise", f"{uscc} is not in the enterprise registry") from None
        if record["status"] != "active":
            raise Failed("not_active", f"{uscc} is {record['status']}")
        facts = registry_facts(record, civil_date(self.ctx.time_ms))
        sources = {k: {"dept": "market", "attestation": "registry:" + uscc} for k in facts}
        for _, att in self.ctx.scan(f"f/{uscc}/", 100):
            if not att["revoked"] and att["expires_ms"] > self.ctx.time_ms:
                facts[att["attribute"]] = att["value"]
                sources[att["attribute"]] = {"dept": att["dept"], "attestation": att["id"]}
        return facts, sources

    # --- grants without an application --------------------------------------------------------

    @entry
    def grant(self, policy_id: str, uscc: str, case: str) -> dict[str, Any]:
        """Decide a grant of an automatic policy (its issuing department) on ``case``, the
        grant case (办件) the department opened for the enterprise under the policy and has
        not decided yet: the enterprise's registry record and live attestations must satisfy
        the eligibility now; the decision records the case, the attestations relied on and the
        amount in fen."""
        record = self._policy(policy_id)
        policy = record["policy"]
        if self.ctx.caller.dept != policy["issuer"]:
            raise Failed("not_issuer", f"only {policy['issuer']} grants under {policy_id}")
        if record["status"] != "published" or policy["mode"] != "automatic":
            raise Failed("not_automatic", f"{policy_id} is not a published automatic policy")
        today = civil_date(self.ctx.time_ms)
        if not policy["valid_from"] <= today <= policy["valid_until"]:
            raise Failed("not_in_force", f"{policy_id} is in force {policy['valid_from']} to "
                         f"{policy['valid_until']}, not on {today}")  # fmt: skip
        if self.ctx.exists(f"g/{policy_id}/{uscc}"):
            raise Failed("granted", f"{uscc} already has a decision under {policy_id}")
        facts, sources = self._facts(uscc)
        outcome = assess(policy, facts)
        if outcome["status"] != "qualifies":
            i = outcome["failing"][0]
            raise Failed("not_eligible", f"{uscc} fails clause {i} of {policy_id}")
        amount = outcome["benefit_fen"]
        spent = self.ctx.get("b/" + policy_id) or 0
        if policy["budget_fen"] and spent + amount > policy["budget_fen"]:
            raise Failed(
                "budget_exhausted", f"{policy_id} has {policy['budget_fen'] - spent} fen left"
            )
        self._grant_case(case, policy_id, policy["issuer"], uscc)
        relied = variables(policy["eligibility"], [])
        variables(benefit_expression(policy["benefit"]), relied)
        decision = {
            "policy": policy_id,
            "version": record["version"],
            "uscc": uscc,
            "case": case,
            "amount_fen": amount,
            "facts": [
                {"attribute": a, "value": facts.get(a), **sources[a]}
                for a in relied
                if a in sources
            ],
            "status": "granted",
            "decided_ms": self.ctx.time_ms,
            "tx_id": self.ctx.tx_id,
            "by": self.ctx.caller.actor,
            "declined": "",
        }
        self.ctx.put(f"g/{policy_id}/{uscc}", decision)
        self.ctx.put(f"ge/{uscc}/{policy_id}", 1)
        self.ctx.put("b/" + policy_id, spent + amount)
        self.ctx.emit("granted", {"policy": policy_id, "uscc": uscc, "amount_fen": amount})
        return decision

    def _grant_case(self, number: Any, policy_id: str, issuer: str, uscc: str) -> None:
        """Refuse unless ``number`` is an undecided case the issuer opened itself about the
        enterprise, for this policy (its particulars name it)."""
        if not isinstance(number, str) or not number:
            raise Failed("no_case", "a grant is decided on its case: give the case number")
        try:
            found = self.ctx.read("cases", "case", {"case": number})
        except Exception:
            raise Failed("no_case", f"there is no case {number}") from None
        opened = found["history"][0]
        particulars = found.get("particulars") or {}
        if (
            found["applicant_kind"] != "department"
            or opened["dept"] != issuer
            or found["subject"] != uscc
            or particulars.get("policy") != policy_id
        ):
            raise Failed(
                "wrong_case", f"case {number} is not {issuer}'s case for {uscc} under {policy_id}"
            )
        if found["status"] != "accepted":
            raise Failed("case_decided", f"case {number} is {found['status']}")

    @entry
    def decline(self, policy_id: str, uscc: str, reason: str) -> dict[str, Any]:
        """Record that the enterprise declines a grant (signed for its legal representative or
        agent, who is the actor): the payment is not made and the budget is released."""
        decision = self.ctx.get(f"g/{policy_id}/{uscc}") if isinstance(policy_id, str) else None
        if decision is None:
            raise Failed("not_found", f"{uscc} has no grant under {policy_id}")
        if decision["status"] != "granted":
            raise Failed("declined", f"the grant under {policy_id} is already declined")
        actor = self.ctx.caller.actor
        acting = self.ctx.read("registry", "acting_for", {"agent": actor})
        if not any(e["uscc"] == uscc for e in acting):
            raise Failed("not_agent", f"{actor} does not act for {uscc}")
        if text_problem(reason, 500):
            raise Failed("bad_reason", "reason: " + text_problem(reason, 500))
        decision.update(status="declined", declined=reason, declined_ms=self.ctx.time_ms)
        self.ctx.put(f"g/{policy_id}/{uscc}", decision)
        spent = self.ctx.get("b/" + policy_id) or 0
        self.ctx.put("b/" + policy_id, spent - decision["amount_fen"])
        self.ctx.emit("declined", {"policy": policy_id, "uscc": uscc})
        return {"policy": policy_id, "uscc": uscc, "status": "declined"}

    # --- views --------------------------------------------------------------------------------

    @view
    def policy(self, policy_id: str) -> dict[str, Any] | None:
        """A policy's record (``None`` if there is none)."""
        found: dict[str, Any] | None = self.ctx.get("p/" + policy_id) if policy_id else None
        return found

    @view
    def policies(self, status: str = "") -> list[dict[str, Any]]:
        """Every policy's record (of one status if given), in id order."""
        return [v for _, v in self.ctx.scan("p/", 10000) if not status or v["status"] == status]

    @view
    def facts(self, uscc: str) -> list[dict[str, Any]]:
        """The enterprise's current attestations, by attribute."""
        return [v for _, v in self.ctx.scan(f"f/{uscc}/", 100)] if uscc else []

    @view
    def attestation(self, attestation: str) -> dict[str, Any] | None:
        """One attestation (``None`` if there is none)."""
        found: dict[str, Any] | None = self.ctx.get("a/" + attestation) if attestation else None
        return found

    @view
    def decision(self, policy_id: str, uscc: str) -> dict[str, Any] | None:
        """The grant decision for an enterprise under a policy (``None`` if there is none)."""
        found: dict[str, Any] | None = self.ctx.get(f"g/{policy_id}/{uscc}") if uscc else None
        return found

    @view
    def grants(self, uscc: str) -> list[dict[str, Any]]:
        """An enterprise's grant decisions, by policy."""
        out = []
        for key, _ in self.ctx.scan(f"ge/{uscc}/", 1000) if uscc else []:
            out.append(self.ctx.get("g/" + key.split("/")[2] + "/" + uscc))
        return out

    @view
    def check(self, policy_id: str, uscc: str) -> dict[str, Any]:
        """What ``grant`` would find now: the outcome and the facts with their sources."""
        record = self._policy(policy_id)
        facts, sources = self._facts(uscc)
        outcome = assess(record["policy"], facts)
        outcome["facts"] = facts
        outcome["sources"] = sources
        return outcome
