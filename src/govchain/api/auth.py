"""Who may call each endpoint: every route declares an ``Access`` policy as a dependency.

``tests/api/test_auth_declared.py`` walks every route of the application and fails if one has
no declaration. Policies:

==========================  ======================================================================
``PUBLIC``                  anyone (ledger reads: the ledger is public inside the network; OIDC
                            endpoints authenticate users and clients themselves)
``SIGNED``                  anyone, but what is submitted must carry a member's signature (the
                            signature is the authorisation, checked by admission)
``USER``                    any logged-in user (bearer access token)
``staff(roles)``            department staff with one of ``roles``
``dept_staff(roles)``       staff with one of ``roles`` *of the department in the path*
                            (``{dept}``): an officer of A acting for B gets 403
==========================  ======================================================================

A bearer token that is forged, expired, wrongly signed, from another issuer or of a logged-out
session is a 401; a valid token without the right kind, role or department is a 403.

Access is checked before the request's input: FastAPI reads and decodes a JSON body before it
solves any dependency, so ``api.guards`` checks the route's declaration (``declared_access``)
before answering an input error that came that early. ``ACCESS_CHECKED`` marks a request whose
access was checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant

from govchain.errors import Forbidden, Unauthenticated
from govchain.identity.oidc import Principal
from govchain.identity.service import Identity


def get_identity(request: Request) -> Identity:
    """Return the identity service of the application."""
    identity: Identity = request.app.state.identity
    return identity


IdentityDep = Annotated[Identity, Depends(get_identity)]
"""The identity service."""


def bearer_token(request: Request) -> str | None:
    """Return the bearer token of the ``Authorization`` header, if any."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <access token>'")
    return token.strip()


ACCESS_CHECKED = "govchain.access_checked"
"""ASGI scope key of the access checks a request passed: ``{Access: principal}`` (``None`` on
public routes)."""


class Access:
    """A route's access declaration, used as a FastAPI dependency."""

    def __init__(
        self,
        name: str,
        description: str,
        check: Callable[[Principal, Request], None] | None,
    ) -> None:
        self.name = name
        self.description = description
        self._check = check

    def __repr__(self) -> str:
        return f"Access({self.name!r})"

    @property
    def checks_token(self) -> bool:
        """Whether the caller must present a bearer access token (401 without a valid one)."""
        return self._check is not None

    async def __call__(self, request: Request) -> Principal | None:
        # async: checked on the event loop (about 55 µs of CPU), without a worker-thread hop.
        checked: dict[Access, Principal | None] = request.scope.setdefault(ACCESS_CHECKED, {})
        if self in checked:  # by api.guards, before an early input error
            return checked[self]
        principal = None
        if self._check is not None:
            token = bearer_token(request)
            if token is None:
                raise Unauthenticated("this endpoint needs a bearer access token (log in first)")
            principal = get_identity(request).provider.verify_access_token(token)
            self._check(principal, request)
            request.state.principal = principal
        checked[self] = principal
        return principal


def find_access(dependant: Dependant) -> Access | None:
    """Return the access declared among a route's dependencies (``None`` if none is)."""
    for d in dependant.dependencies:
        if isinstance(d.call, Access):
            return d.call
    for d in dependant.dependencies:
        found = find_access(d)
        if found is not None:
            return found
    return None


def declared_access(scope: Mapping[str, Any]) -> Access | None:
    """Return the access declared by the route a request was routed to (``None`` before
    routing, or for a route of another kind)."""
    # FastAPI 0.165 includes routers lazily: the dependencies given to ``include_router`` (the
    # apps' access levels) are only in the route's effective context, which holds the route's
    # own dependencies as well. Older versions copy them into the route's own dependant.
    context = scope.get("fastapi", {}).get("effective_route_context")
    for holder in (context, scope.get("route")):
        dependant = getattr(holder, "dependant", None)
        if isinstance(dependant, Dependant):
            found = find_access(dependant)
            if found is not None:
                return found
    return None


def _any(principal: Principal, request: Request) -> None:
    return None


PUBLIC = Access("public", "anyone", None)
"""Anyone may call."""
SIGNED = Access("signed", "anyone; the submitted transactions carry member signatures", None)
"""Anyone may call; the body is authorised by member signatures."""
USER = Access("user", "any logged-in user", _any)
"""Any logged-in user."""


def staff(*roles: str) -> Access:
    """Staff of any department with one of ``roles``."""

    def check(p: Principal, request: Request) -> None:
        if p.kind != "staff" or p.role not in roles:
            raise Forbidden(f"this endpoint is for department staff ({', '.join(roles)})")

    return Access(f"staff({','.join(roles)})", f"department staff: {', '.join(roles)}", check)


def dept_staff(*roles: str) -> Access:
    """Staff with one of ``roles`` of the department named in the path (``{dept}``)."""

    def check(p: Principal, request: Request) -> None:
        if p.kind != "staff" or p.role not in roles:
            raise Forbidden(f"this endpoint is for department staff ({', '.join(roles)})")
        dept = request.path_params.get("dept")
        if p.dept != dept:
            raise Forbidden(
                f"staff of department {p.dept!r} may not act for department {dept!r}",
                dept=dept,
            )

    return Access(
        f"dept_staff({','.join(roles)})",
        f"staff of the department in the path: {', '.join(roles)}",
        check,
    )


def requires(access: Access) -> Any:
    """Return the dependency marker of ``access`` (``Depends``) for routes and routers."""
    return Depends(access)
