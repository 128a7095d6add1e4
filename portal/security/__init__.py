"""Accounts, sessions, CSRF, security headers, search purpose and the audit trail.

The interface the rest of the portal uses (see notes/portal-contract.md):
``install_security(app, settings)``, ``router``, ``CurrentUser``, ``RequirePurpose``,
``Auditor`` (``audit.record(request, action, target=..., outcome=..., details=...)``),
``require_role(*roles)`` and ``create_user`` (tests and the CLI).
"""

from __future__ import annotations

from lantern.audit import AuditLog
from lantern.users import IdentityProvider, User, create_user
from portal.security.deps import (
    Auditor,
    CurrentUser,
    RequirePurpose,
    current_user,
    get_audit_log,
    require_purpose,
    require_role,
)
from portal.security.middleware import SecurityContext, install_security
from portal.security.purposes import PurposeInfo

__all__ = [
    "AuditLog",
    "Auditor",
    "CurrentUser",
    "IdentityProvider",
    "PurposeInfo",
    "RequirePurpose",
    "SecurityContext",
    "User",
    "create_user",
    "current_user",
    "get_audit_log",
    "install_security",
    "require_purpose",
    "require_role",
    "router",
]


def __getattr__(name: str) -> object:
    # The router imports the route modules, which import this package: load it on first use.
    if name == "router":
        from portal.security.routing import router

        return router
    raise AttributeError(name)
