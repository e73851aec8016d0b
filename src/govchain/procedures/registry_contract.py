"""The ``registry`` system contract: direct calls on the enterprise and licence registries.

Most registry changes are outputs of cases (``cases_contract``). Directly:

- ``add_agent(uscc, agent)`` / ``remove_agent(uscc, agent)``: a person who may act for an
  enterprise (its legal representative authorises an agent; revocable), called by the handling
  node for a logged-in agent of the enterprise;
- ``import_enterprise(enterprise)``: the registration authority brings an existing enterprise
  into the registry (migration of its current register; demo data);
- ``revoke(uscc, reason)``: the registration authority revokes a business licence (吊销),
  which revokes every licence the enterprise holds, in the same block.

Views: ``enterprise``, ``enterprises``, ``licence``, ``licences``, ``name``, ``certificate``
(``number``) and ``certificates_of`` (``holder``: a citizen's on-chain id) — citizens'
certificates, issued by the cases of certification matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from govchain.contracts.errors import UnknownMethod
from govchain.errors import Conflict, Forbidden, NotFound, SchemaViolation
from govchain.ledger.execution import CallContext
from govchain.procedures import layout, registry
from govchain.procedures.names import HANGZHOU_DIVISIONS, check_name, name_key
from govchain.procedures.services_contract import load_calendar

REGISTRATION_AUTHORITY = "market"
"""The department that keeps the enterprise register (市场监督管理局)."""
MAX_LIST = 1000


def _uscc(args: Mapping[str, Any]) -> str:
    uscc = args.get("uscc")
    if type(uscc) is not str or len(uscc) != 18:
        raise SchemaViolation(
            "uscc must be an 18-character unified social credit code", field="uscc"
        )
    return uscc


def _authority(ctx: CallContext) -> None:
    if ctx.signer_dept != REGISTRATION_AUTHORITY or ctx.signer_role not in ("admin", "service"):
        raise Forbidden(f"only the registration authority ({REGISTRATION_AUTHORITY}) may do this")


class RegistryContract:
    """Agents, imports and revocation; registry views."""

    name = "registry"

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        if method in ("add_agent", "remove_agent"):
            uscc = _uscc(args)
            agent = args.get("agent")
            if type(agent) is not str or not agent.startswith(("citizen/", "enterprise/")):
                raise SchemaViolation("agent must be a citizen or enterprise id", field="agent")
            ent = registry.load_enterprise(ctx, uscc)
            if ctx.tx.actor not in ent["agents"] or ctx.signer_role not in ("admin", "service"):
                raise Forbidden(f"only a person acting for {uscc} may change who acts for it")
            agents = list(ent["agents"])
            if method == "add_agent":
                if agent in agents:
                    raise Conflict(f"{agent} already acts for {uscc}")
                if len(agents) >= registry.MAX_AGENTS:
                    raise Conflict(f"{uscc} has {len(agents)} agents, the most allowed")
                agents.append(agent)
            else:
                if agent not in agents:
                    raise NotFound(f"{agent} does not act for {uscc}")
                if len(agents) == 1:
                    raise Conflict("the last person acting for an enterprise cannot be removed")
                agents.remove(agent)
            registry.set_agents(ctx, uscc, ent["agents"], agents)
            ent["agents"] = agents
            registry.store(ctx, layout.enterprise_key(uscc), ent)
            ctx.emit(f"registry.{method[:-6]}_agent", {"uscc": uscc, "agent": agent})
            return {"uscc": uscc, "agents": agents}
        if method == "import_enterprise":
            _authority(ctx)
            return self._import(ctx, args)
        if method == "revoke":
            _authority(ctx)
            uscc = _uscc(args)
            reason = args.get("reason")
            if type(reason) is not str or not 0 < len(reason) <= 500:
                raise SchemaViolation("a reason of 1 to 500 characters", field="reason")
            ent = registry.load_enterprise(ctx, uscc)
            if ent["status"] in ("deregistered", "revoked"):
                raise Conflict(f"enterprise {uscc} is already {ent['status']}")
            registry.set_status(ctx, uscc, "revoked", ctx.tx.case, reason)
            revoked = registry.revoke_all_licences(ctx, uscc, reason, ctx.tx.case)
            return {"uscc": uscc, "status": "revoked", "licences_revoked": revoked}
        raise UnknownMethod(f"contract {self.name} has no method {method!r}")

    def _import(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        obj = args.get("enterprise")
        if not isinstance(obj, Mapping):
            raise SchemaViolation("enterprise must be an object", field="enterprise")
        particulars = registry.parse_registration(
            {k: v for k, v in obj.items() if k not in ("uscc", "established_ms", "agents")}
        )
        uscc = _uscc(obj)
        if ctx.get(layout.enterprise_key(uscc)) is not None:
            raise Conflict(f"enterprise {uscc} is already in the registry")
        key = name_key(check_name(particulars["name"], HANGZHOU_DIVISIONS, ()))
        if ctx.get(layout.name_key(key)) is not None:
            raise Conflict(f"the name {particulars['name']} is taken", field="enterprise.name")
        agents = obj.get("agents", [])
        if not isinstance(agents, list) or not all(type(a) is str for a in agents):
            raise SchemaViolation("agents must be a list of ids", field="enterprise.agents")
        established = obj.get("established_ms", ctx.block_time_ms)
        if type(established) is not int or established > ctx.block_time_ms:
            raise SchemaViolation(
                "established_ms must be in the past", field="enterprise.established_ms"
            )
        record = {
            **particulars,
            "uscc": uscc,
            "status": "active",
            "established_ms": established,
            "case": "",
            "registered_by": ctx.signer_dept,
            "agents": agents,
            "history": [
                {
                    "status": "active",
                    "time_ms": established,
                    "case": "",
                    "imported_ms": ctx.block_time_ms,
                }
            ],
        }
        registry.store(ctx, layout.enterprise_key(uscc), record)
        registry.set_agents(ctx, uscc, [], list(agents))
        registry.store(
            ctx, layout.name_key(key), {"uscc": uscc, "name": particulars["name"], "case": ""}
        )
        ctx.emit("registry.enterprise_imported", {"uscc": uscc})
        # Its business licence comes along, valid since the enterprise was established.
        registry.issue_licence(
            ctx,
            licence_type="business_licence",
            name={"zh": "营业执照", "en": "Business licence"},
            holder=record,
            scope=particulars["scope"],
            validity_years=0,
            dept=ctx.signer_dept,
            case="",
            commitment=False,
            cal=load_calendar(ctx),
            valid_from_ms=established,
        )
        return {"uscc": uscc}

    def view(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Run a read-only method."""
        if method == "enterprise":
            ent = registry.load_enterprise(ctx, _uscc(args))
            return {**ent, "licences": registry.licences_of(ctx, ent["uscc"])}
        if method == "enterprises":
            limit, after = args.get("limit", 100), args.get("after", "")
            if type(limit) is not int or not 1 <= limit <= MAX_LIST or type(after) is not str:
                raise SchemaViolation(f"limit 1 to {MAX_LIST}, after a USCC", field="limit")
            out = []
            for key, raw in ctx.scan(layout.ENTERPRISES, MAX_LIST * 10):
                if key[len(layout.ENTERPRISES) :].decode() <= after:
                    continue
                out.append(orjson.loads(raw))
                if len(out) >= limit:
                    break
            return out
        if method == "licence":
            number = args.get("number")
            lic = registry.load(ctx, layout.licence_key(number)) if type(number) is str else None
            if lic is None:
                raise NotFound(f"no licence {number!r}", licence=number)
            return lic
        if method == "acting_for":
            agent = args.get("agent")
            if type(agent) is not str or not agent:
                raise SchemaViolation("agent is a user id", field="agent")
            prefix = layout.agent_key(agent, "")
            return [
                registry.load_enterprise(ctx, key[len(prefix) :].decode())
                for key, _ in ctx.scan(prefix, MAX_LIST)
            ]
        if method == "licences":
            return registry.licences_of(ctx, _uscc(args))
        if method == "certificate":
            number = args.get("number")
            if type(number) is not str or not number:
                raise SchemaViolation("number is a certificate number", field="number")
            return registry.load_certificate(ctx, number)
        if method == "certificates_of":
            holder = args.get("holder")
            if type(holder) is not str or not holder:
                raise SchemaViolation("holder is an on-chain id", field="holder")
            return registry.certificates_of(ctx, holder, MAX_LIST)
        if method == "name":
            name = args.get("name")
            if type(name) is not str:
                raise SchemaViolation("name is required", field="name")
            parts = check_name(name, HANGZHOU_DIVISIONS, ())
            holder = registry.load(ctx, layout.name_key(name_key(parts)))
            return {"name": name, "available": holder is None, "holder": holder}
        raise UnknownMethod(f"contract {self.name} has no view {method!r}")
