"""The portal's web-facing security: sessions, CSRF, security headers, purpose, dependencies.

The interface the rest of the portal uses: ``install_security(app, settings)``,
``CurrentUser``, ``RequirePurpose``, ``Auditor`` (``audit.record(request, action, target=...,
outcome=..., details=...)``) and ``require_role(*roles)`` from :mod:`portal.security.deps`;
the routes (login, purpose, auditor pages) are :data:`portal.security.routing.router`.
Accounts and the audit chain itself live in :mod:`lantern.users` and :mod:`lantern.audit`.
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
]
