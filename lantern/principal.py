"""Who is asking: the principal every read, audit event and notification is decided for.

Built from the identity source at sign-in (``lantern.users``); the access policy over it is
``search.access``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INTEL_CLEARANCE = "intel"
INTEL_C_CLEARANCE = "intel_c"
ROLES = ("officer", "analyst", "supervisor", "auditor", "admin")


@dataclass(frozen=True)
class Principal:
    """Who is asking. Built from the identity source at login; immutable for a request."""

    username: str
    display_name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    units: frozenset[str] = field(default_factory=frozenset)
    clearances: frozenset[str] = field(default_factory=frozenset)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))
