"""State keys of service definitions, cases and the registries (all under ``c/``)."""

from __future__ import annotations

SERVICES = b"c/services/"
"""Prefix of the services contract's state."""
CASES = b"c/cases/"
"""Prefix of the cases contract's state."""
REGISTRY = b"c/registry/"
"""Prefix of the enterprise and licence registries."""


def definition_key(code: str) -> bytes:
    """Current published version of a service: ``{version, hash, published_ms, height}``."""
    return SERVICES + b"def/" + code.encode()


def version_key(code: str, version: int) -> bytes:
    """A published version's definition."""
    return SERVICES + b"ver/" + code.encode() + b"/" + b"%08d" % version


def proposal_key(code: str, version: int) -> bytes:
    """A proposed version: ``{definition, hash, approvals, proposer}``."""
    return SERVICES + b"prop/" + code.encode() + b"/" + b"%08d" % version


CALENDAR_KEY = SERVICES + b"calendar"
"""The working-day calendar in force (absent: the calendar shipped with the software)."""


def calendar_proposal_key(year: int) -> bytes:
    """A proposed change of one year of the calendar."""
    return SERVICES + b"calprop/" + b"%04d" % year


def case_key(number: str) -> bytes:
    """A case record."""
    return CASES + b"case/" + number.encode()


def day_serial_key(day: str) -> bytes:
    """Last case serial of a day."""
    return CASES + b"seq/" + day.encode()


def applicant_key(applicant: str, number: str) -> bytes:
    """Index: an applicant's cases."""
    return CASES + b"by/" + applicant.encode() + b"/" + number.encode()


def subject_key(subject: str, number: str) -> bytes:
    """Index: the cases about a subject (an enterprise)."""
    return CASES + b"about/" + subject.encode() + b"/" + number.encode()


def queue_prefix(dept: str, role: str = "") -> bytes:
    """Prefix of a department's (and role's) queue of open steps."""
    p = CASES + b"q/" + dept.encode() + b"/"
    return p + role.encode() + b"/" if role else p


def queue_key(dept: str, role: str, number: str, step: str) -> bytes:
    """Queue entry of an open step: ``{service, deadline_ms, assignee, status, opened_ms}``."""
    return queue_prefix(dept, role) + number.encode() + b"/" + step.encode()


def decision_key(dept: str, number: str) -> bytes:
    """Queue entry of a case waiting for its owner's acceptance, decision or closing."""
    return CASES + b"d/" + dept.encode() + b"/" + number.encode()


def decision_prefix(dept: str) -> bytes:
    """Prefix of a department's decision queue."""
    return CASES + b"d/" + dept.encode() + b"/"


def enterprise_key(uscc: str) -> bytes:
    """An enterprise record."""
    return REGISTRY + b"ent/" + uscc.encode()


ENTERPRISES = REGISTRY + b"ent/"
"""Prefix of enterprise records."""


def name_key(key: str) -> bytes:
    """A registered or reserved enterprise name: ``{uscc}`` or ``{case}``."""
    return REGISTRY + b"name/" + key.encode()


def serial_key(what: str) -> bytes:
    """A counter (USCC serials per division, licence serials per type and year)."""
    return REGISTRY + b"serial/" + what.encode()


def agent_key(agent: str, uscc: str) -> bytes:
    """Index: the enterprises a person acts for."""
    return REGISTRY + b"agent/" + agent.encode() + b"/" + uscc.encode()


def licence_key(number: str) -> bytes:
    """A licence record."""
    return REGISTRY + b"lic/" + number.encode()


def holder_key(uscc: str, number: str) -> bytes:
    """Index: the licences of an enterprise."""
    return REGISTRY + b"held/" + uscc.encode() + b"/" + number.encode()


def certificate_key(number: str) -> bytes:
    """A citizen certificate record (issued by a case)."""
    return REGISTRY + b"cert/" + number.encode()


def certificate_holder_key(holder: str, number: str) -> bytes:
    """Index: the certificates of a holder (a citizen's on-chain id, or a USCC)."""
    return REGISTRY + b"certheld/" + holder.encode() + b"/" + number.encode()
