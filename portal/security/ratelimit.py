"""Per-user rate limits, bulk-disclosure roles and the daily export row quota (issue 13, finding 5).

Rate limits use the ``limits`` package (moving window). Where the counters live is one
setting, ``LANTERN_RATE_LIMIT_STORAGE``, read by :func:`make_storage` only: ``opensearch``
(the default) keeps them in the ``ratelimits`` index (:mod:`lantern.ratelimits`), shared by
every portal process; ``memory://`` keeps them per process (N processes allow up to N times
each limit); any other ``limits`` storage URI (``redis://``, ``memcached://``) is used as it
is. A refusal is audited (``rate_limited``) and shown as a 429 page.

The export quota is counted from the disclosures index (export rows actually disclosed
today, whichever worker served them), plus any supervisor grants for today, which are
audit events (``export.quota_override``) and so cannot be given silently.
"""

from __future__ import annotations

import contextvars
import threading
import time as clock
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, Literal, NoReturn, TypeVar, cast

from fastapi import HTTPException, Request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from opensearchpy import OpenSearch

from lantern.audit import AuditLog
from lantern.observability import RATE_LIMIT_REFUSALS
from lantern.principal import Principal
from lantern.ratelimits import OpenSearchStorage
from lantern.settings import Settings

Kind = Literal["search", "suggest", "record", "batch", "export"]
T = TypeVar("T")
# Limit checks run beside a read (``RateLimits.run``); one pool per process, as the person cards'.
_CHECK_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ratelimit")
EXPORT_ACTIONS = ("export.manifest",)
OVERRIDE_ACTION = "export.quota_override"
OPENSEARCH_STORAGE = "opensearch"


def make_storage(settings: Settings, client: OpenSearch | None = None) -> Storage:
    """The one place the rate-limit storage is chosen (see the module docstring)."""
    if settings.rate_limit_storage == OPENSEARCH_STORAGE:
        if client is None:
            raise ValueError("the opensearch rate-limit storage needs the portal's client")
        return OpenSearchStorage(client, settings)
    storage = storage_from_string(settings.rate_limit_storage)
    if not isinstance(storage, Storage):  # an async:// URI: the routes are synchronous
        raise ValueError(f"LANTERN_RATE_LIMIT_STORAGE={settings.rate_limit_storage!r} is an async storage")
    return storage


class RateLimits:
    def __init__(
        self, settings: Settings, storage: Storage | None = None, client: OpenSearch | None = None
    ) -> None:
        self.enabled = settings.rate_limits_enabled
        self.storage = storage or make_storage(settings, client)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.rules: dict[str, list[RateLimitItem]] = {
            "search": parse_many(settings.rate_limit_search),
            "suggest": parse_many(settings.rate_limit_suggest),
            "record": parse_many(settings.rate_limit_record),
            "batch": parse_many(settings.rate_limit_batch),
            "export": parse_many(settings.rate_limit_export),
        }
        # ``run``'s bookkeeping: requests in flight and refusals, per (kind, user), this process.
        self._lock = threading.Lock()
        self._inflight: Counter[tuple[str, str]] = Counter()
        self._refused_until: dict[tuple[str, str], float] = {}

    def hit(self, kind: Kind, username: str) -> RateLimitItem | None:
        """Count one ``kind`` action by ``username``; the limit it broke, or None if allowed.

        In OpenSearch all of the action's windows are one document and one round trip (see
        ``lantern.ratelimits``); other ``limits`` storages take one hit per window."""
        if not self.enabled:
            return None
        items = self.rules[kind]
        if isinstance(self.storage, OpenSearchStorage):
            windows = [(i.amount, i.get_expiry()) for i in items]
            broke = self.storage.acquire_windows(self.key(kind, username, items[0]), windows)
            return None if broke is None else items[broke]
        for item in items:
            if not self.limiter.hit(item, kind, username):
                return item
        return None

    def key(self, kind: Kind, username: str, item: RateLimitItem) -> str:
        """Where ``item``'s window for ``username`` is counted in the storage."""
        if isinstance(self.storage, OpenSearchStorage):
            # One document per action, user and set of windows (not per window): its hit times
            # serve every window. Changing the limits starts afresh, as ``limits``' own keys do.
            rules = "+".join(f"{i.amount}/{i.multiples}/{i.GRANULARITY.name}" for i in self.rules[kind])
            return f"LIMITER/{kind}/{username}/{rules}"
        return item.key_for(kind, username)

    def reset(self) -> None:
        self.storage.reset()
        with self._lock:
            self._refused_until.clear()

    def run(self, kind: Kind, username: str, read: Callable[[], T]) -> tuple[T | None, RateLimitItem | None]:
        """``read()`` under the ``kind`` limit: its result, or (None, the limit it broke).

        The limit check is a round trip to the storage (OpenSearch by default); made before
        the read it adds its whole latency to every search. So when it is safe the check runs
        BESIDE the read and a refused request's result is thrown away unseen (nothing is shown
        or audited as shown). It is safe when the user has no other request of this kind in
        flight in this process and has not been refused for it in the last window: such a
        request is within the limit but for at most one request per process, and only that
        one costs a read it was not entitled to. A user with a request in flight (a flood of
        concurrent searches, issue 13's finding) or refused lately is checked first, so a
        flood gets no read past the limit but those already under way.
        """
        if not self.enabled:
            return read(), None
        key = (kind, username)
        with self._lock:
            beside = self._inflight[key] == 0 and self._refused_until.get(key, 0.0) <= clock.monotonic()
            self._inflight[key] += 1
        try:
            if not beside:
                broken = self.hit(kind, username)
                if broken is not None:
                    return None, self._refused(key, broken)
                return read(), None
            check: Future[RateLimitItem | None] = _CHECK_POOL.submit(
                contextvars.copy_context().run, self.hit, kind, username
            )
            try:
                result = read()
            except BaseException:
                check.cancel()
                raise
            broken = check.result()  # a storage failure is raised as when checked first
            if broken is not None:
                return None, self._refused(key, broken)
            return result, None
        finally:
            with self._lock:
                self._inflight[key] -= 1
                if not self._inflight[key]:
                    del self._inflight[key]

    def _refused(self, key: tuple[str, str], broken: RateLimitItem) -> RateLimitItem:
        with self._lock:
            self._refused_until[key] = clock.monotonic() + broken.get_expiry()
        return broken


def enforce(request: Request, kind: Kind, user: Principal) -> None:
    """Refuse (429, audited) when ``user`` is over the ``kind`` limit."""
    ctx = request.app.state.security
    broken = ctx.rate_limits.hit(kind, user.username)
    if broken is not None:
        refuse(request, kind, broken)


def limited(request: Request, kind: Kind, user: Principal, read: Callable[[], T]) -> T:
    """``read()`` under ``user``'s ``kind`` limit (the check beside the read when that is safe,
    see ``RateLimits.run``); refused (429, audited) like ``enforce``, the read's result unseen."""
    result, broken = request.app.state.security.rate_limits.run(kind, user.username, read)
    if broken is not None:
        refuse(request, kind, broken)
    return cast(T, result)  # not refused: ``run`` returned the read's own result


def refuse(request: Request, kind: Kind, broken: RateLimitItem) -> NoReturn:
    """The 429 for ``broken``, audited (``rate_limited``)."""
    ctx = request.app.state.security
    RATE_LIMIT_REFUSALS.labels(kind).inc()
    ctx.audit.record(
        request,
        "rate_limited",
        outcome="denied",
        target={"path": request.url.path},
        details={"kind": kind, "limit": str(broken)},
    )
    raise HTTPException(
        status_code=429,
        detail=f"Too many {kind} requests ({broken}). Wait a little and try again; "
        "a supervisor can see this refusal in the audit trail.",
        headers={"Retry-After": str(broken.get_expiry())},
    )


def require_bulk_role(request: Request, user: Principal, action: str) -> None:
    """Export and batch search only for the roles the force configures (403, audited)."""
    ctx = request.app.state.security
    roles = ctx.settings.bulk_roles
    if user.has_role(*roles):
        return
    ctx.audit.record(
        request,
        "access.denied",
        outcome="denied",
        target={"path": request.url.path},
        details={"required_roles": sorted(roles), "bulk_action": action},
    )
    raise HTTPException(status_code=403, detail=f"Your role may not use {action}.")


@dataclass(frozen=True)
class Quota:
    allowance: int  # daily rows plus today's supervisor grants
    used: int

    @property
    def left(self) -> int:
        return max(0, self.allowance - self.used)


def day_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return datetime.combine(now.date(), time(0), tzinfo=UTC)


@dataclass(frozen=True)
class Grant:
    """A supervisor's grant of extra export rows for today (read back from its audit event)."""

    user: str
    rows: int
    reason: str
    by: str
    ts: str


def grants_today(
    client: OpenSearch, settings: Settings, audit: AuditLog, username: str | None = None
) -> list[Grant]:
    """Today's successful grants, newest first; all users' unless ``username`` is given.

    The audit trail is the only record of a grant, so a grant can never be given silently.
    """
    audit.refresh()
    filters: list[dict[str, Any]] = [
        {"term": {"action": OVERRIDE_ACTION}},
        {"term": {"outcome": "success"}},
        {"range": {"ts": {"gte": day_start().isoformat()}}},
    ]
    if username is not None:
        filters.append({"term": {"target_ids": username}})
    res = client.search(
        index=settings.index_name("audit"),
        body={
            "size": 500,
            "_source": ["details", "target", "user", "ts"],
            "sort": [{"ts": "desc"}],
            "query": {"bool": {"filter": filters}},
        },
    )
    grants = []
    for h in res["hits"]["hits"]:
        src: dict[str, Any] = h["_source"]
        user = str((src.get("target") or {}).get("user") or "")
        if username is not None and user != username:
            continue
        details = src.get("details") or {}
        grants.append(
            Grant(
                user=user,
                rows=int(details.get("rows") or 0),
                reason=str(details.get("reason") or ""),
                by=str(src.get("user") or ""),
                ts=str(src.get("ts") or ""),
            )
        )
    return grants


def granted_today(client: OpenSearch, settings: Settings, audit: AuditLog, username: str) -> int:
    return sum(g.rows for g in grants_today(client, settings, audit, username))


def export_quota(request: Request, username: str) -> Quota:
    ctx = request.app.state.security
    return quota_of(ctx.client, ctx.settings, ctx.audit, username)


def quota_of(client: OpenSearch, settings: Settings, audit: AuditLog, username: str) -> Quota:
    """``username``'s export rows today (also used by the worker, which has no request)."""
    used = audit.disclosures.count(user=username, actions=EXPORT_ACTIONS, since=day_start())
    extra = granted_today(client, settings, audit, username)
    return Quota(settings.export_daily_rows + extra, used)
