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
import logging
import threading
import time as clock
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, Literal, NoReturn, TypeVar, cast

from cachetools import TTLCache
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
log = logging.getLogger(__name__)


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


@dataclass
class Lease:
    """Hits of one user's windows taken at once and spent by this process without a round
    trip (see ``RateLimits.hit``)."""

    doc: str  # the storage key
    stamp: float  # epoch seconds the hits carry in the storage: the last moment to spend one
    until: float  # the same moment on this process's monotonic clock
    left: int
    timer: threading.Timer | None = None


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
        # Leases (``hit``): unspent ones per (kind, user), and when each user last hit.
        self.lease_size = settings.rate_limit_lease
        self.lease_seconds = settings.rate_limit_lease_seconds
        self._leases: dict[tuple[str, str], list[Lease]] = {}
        self._last_hit: TTLCache[tuple[str, str], float] = TTLCache(
            maxsize=100_000, ttl=self.lease_seconds, timer=clock.monotonic
        )

    def hit(self, kind: Kind, username: str) -> RateLimitItem | None:
        """Count one ``kind`` action by ``username``; the limit it broke, or None if allowed.

        In OpenSearch all of the action's windows are one document and one round trip (see
        ``lantern.ratelimits``); other ``limits`` storages take one hit per window.

        A user who hit the same limit in this process within ``rate_limit_lease_seconds``
        (searching fast) takes a lease instead: up to ``rate_limit_lease`` hits in the same
        one round trip, which this process then spends without asking the storage (the round
        trip beside every query took CPU from the query itself: issue 13, bench-search). The
        limit still holds exactly as a maximum, since every leased hit is counted in the
        shared windows when taken, stamped with the last moment it may be spent (so it stays
        counted for its whole window after any use). What a lease trades: hits one process
        holds unspent are not available to the same user's requests in another process until
        the lease ends (``rate_limit_lease_seconds``) and gives them back, so a user
        alternating between portals at the very edge of a limit can be refused up to
        (lease - 1) requests early per other process, never late. A lease is at most a tenth
        of the smallest window, and near the limit it is whatever room is left.
        """
        if not self.enabled:
            return None
        items = self.rules[kind]
        if not isinstance(self.storage, OpenSearchStorage):
            for item in items:
                if not self.limiter.hit(item, kind, username):
                    return item
            return None
        key = (kind, username)
        if self._spend(key):
            return None
        windows = [(i.amount, i.get_expiry()) for i in items]
        doc = self.key(kind, username, items[0])
        size = self._lease_size(kind) if self._seen_lately(key) else 1
        if size > 1:
            until, stamp = clock.monotonic() + self.lease_seconds, clock.time() + self.lease_seconds
            got = self.storage.lease_windows(doc, windows, size, stamp)
            if not got:
                return items[self.storage.refused_window(doc, windows)]
            if got > 1:
                self._keep(key, Lease(doc, stamp, until, got - 1))
            return None
        broke = self.storage.acquire_windows(doc, windows)
        return None if broke is None else items[broke]

    def _lease_size(self, kind: str) -> int:
        return min(self.lease_size, min(i.amount for i in self.rules[kind]) // 10)

    def _seen_lately(self, key: tuple[str, str]) -> bool:
        with self._lock:
            seen = key in self._last_hit
            self._last_hit[key] = clock.monotonic()
        return seen

    def _spend(self, key: tuple[str, str]) -> bool:
        """One hit from a lease of ``key`` still in time, if this process holds one."""
        with self._lock:
            now = clock.monotonic()
            for lease in self._leases.get(key, ()):
                if lease.left > 0 and now < lease.until:
                    lease.left -= 1
                    self._last_hit[key] = now
                    if not lease.left:
                        self._drop(key, lease)
                    return True
        return False

    def _keep(self, key: tuple[str, str], lease: Lease) -> None:
        wait = max(0.0, lease.until - clock.monotonic())
        lease.timer = threading.Timer(wait, self._give_back, (key, lease))
        lease.timer.daemon = True
        with self._lock:
            self._leases.setdefault(key, []).append(lease)
        lease.timer.start()

    def _drop(self, key: tuple[str, str], lease: Lease) -> None:
        # Under self._lock.
        leases = self._leases.get(key, [])
        if lease in leases:
            leases.remove(lease)
        if not leases:
            self._leases.pop(key, None)
        if lease.timer is not None:
            lease.timer.cancel()

    def _give_back(self, key: tuple[str, str], lease: Lease) -> None:
        """A lease's time is up: its unspent hits go back to the shared windows."""
        with self._lock:
            left, lease.left = lease.left, 0
            self._drop(key, lease)
        if left and isinstance(self.storage, OpenSearchStorage):
            try:
                self.storage.release(lease.doc, lease.stamp, left)
            except Exception:  # they stay counted until their window passes: stricter, not looser
                log.warning("could not give back %d leased hits of %s", left, lease.doc, exc_info=True)

    def give_back_leases(self) -> None:
        """Give back every unspent leased hit now (tests; a process about to stop)."""
        with self._lock:
            held = [(key, lease) for key, leases in self._leases.items() for lease in leases]
        for key, lease in held:
            self._give_back(key, lease)

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
            self._last_hit.clear()
            for key, leases in list(self._leases.items()):
                for lease in list(leases):
                    self._drop(key, lease)

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
        if self._spend(key):  # a hit of this process's lease: counted already
            return read(), None
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
