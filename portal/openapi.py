"""What the JSON API's OpenAPI document declares beside each operation's own answer.

Every ``/api/*`` refusal is JSON of one shape (:class:`ErrorOut`), whichever layer refuses:
the security middleware (401 not signed in, 403 CSRF or cross-site, 503 outage), a
dependency (400 bad purpose header, 403 role, 428 no purpose, 429 rate limit) or the error
table (400 bad query, 404, 503). Validation errors (422) keep FastAPI's own shape, which it
declares itself. ``tests/portal/test_openapi_schemathesis.py`` checks the document against
the running API with Schemathesis.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    error: str = Field(description="what went wrong, in a few words")
    detail: str = Field(description="what to do about it")


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description, **extra}


_RETRY_AFTER = {"headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}}}

API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The query could not be run, or the X-Lantern-Purpose header is malformed"),
    401: _error("Not signed in (no valid session cookie)"),
    403: _error("Refused: a role this needs, a CSRF token, or a cross-site request"),
    428: _error("No purpose stated: send X-Lantern-Purpose: CODE;REFERENCE or set one at /purpose"),
    429: _error("Too many requests of this kind", **_RETRY_AFTER),
    503: _error("The search service or the audit trail is unavailable"),
}
NOT_FOUND_ERROR: dict[int | str, dict[str, Any]] = {
    404: _error("No such record or entity, or the caller may not read it (the same answer)")
}
