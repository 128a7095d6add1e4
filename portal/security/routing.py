"""The security routes as one router: login/logout/purpose and the auditor pages."""

from __future__ import annotations

from fastapi import APIRouter

from portal.routes import audit as audit_routes
from portal.routes import auth as auth_routes

# Pages, not API: kept out of the OpenAPI document.
router = APIRouter(include_in_schema=False)
router.include_router(auth_routes.router)
router.include_router(audit_routes.router)
