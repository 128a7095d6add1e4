"""Server-side sessions and login throttling, both in the ``sessions`` index.

The browser holds a random token; the index holds SHA-256(token) as the document id, so a
copy of the index does not yield usable session cookies.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError, OpenSearchException

from lantern.clock import iso, parse_iso, utcnow
from lantern.indices import ensure_security_indices, writer_target
from lantern.observability import RATE_LIMIT_REFUSALS
from lantern.search_client import request_write_params
from lantern.settings import Settings
from mappings import sessions as sessions_mapping

# Writing last_seen on every request would double the load; a minute of slack on the idle
# timeout is the price.
LAST_SEEN_GRANULARITY = timedelta(seconds=60)

log = logging.getLogger(__name__)


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_mac(settings: Settings, sid: str, username: str, created_at: str, csrf_token: str) -> str:
    """HMAC (keyed with LANTERN_SECRET_KEY) binding a session's id to its user, start and CSRF
    token. The portal's OpenSearch user must be able to write sessions, so the role cannot stop
    whoever holds it (or runs OpenSearch) from minting a session document for any username or
    re-pointing one; without the portal's secret key such a document is refused on load."""
    key = settings.secret_key.get_secret_value().encode()
    msg = f"session:{sid}|{username}|{created_at}|{csrf_token}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


@dataclass
class Session:
    id: str  # SHA-256 of the token
    username: str
    created_at: datetime
    last_seen: datetime
    csrf_token: str
    purpose_code: str | None = None
    purpose_reference: str | None = None

    @property
    def ref(self) -> str:
        """A short, non-reversible reference for audit events (correlates one session's events)."""
        return hashlib.sha256(self.id.encode()).hexdigest()[:16]


class SessionStore:
    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name("sessions")
        self.write_index = writer_target(settings, sessions_mapping)

    def create(
        self, username: str, *, client_addr: str | None, user_agent: str | None
    ) -> tuple[str, Session]:
        """A new session; returns the token for the cookie (never stored) and the session."""
        ensure_security_indices(self.client, self.settings)
        token = secrets.token_urlsafe(32)
        now = utcnow()
        sess = Session(token_id(token), username, now, now, secrets.token_urlsafe(32))
        created = iso(now)
        self.client.index(
            index=self.write_index,
            id=sess.id,
            op_type="create",
            body={
                "kind": "session",
                "username": username,
                "mac": session_mac(self.settings, sess.id, username, created, sess.csrf_token),
                "created_at": created,
                "last_seen": iso(now),
                "csrf_token": sess.csrf_token,
                "client": client_addr,
                "user_agent": (user_agent or "")[:300],
            },
        )
        return token, sess

    def load(self, token: str) -> Session | None:
        """The live session for ``token``, or None (unknown, expired: expired ones are deleted)."""
        if not token or len(token) > 200:
            return None
        ensure_security_indices(self.client, self.settings)
        sid = token_id(token)
        try:
            doc = self.client.get(index=self.index, id=sid)
        except NotFoundError:
            return None
        src: dict[str, Any] = doc["_source"]
        if src.get("kind") != "session":
            return None
        expected = session_mac(
            self.settings,
            sid,
            str(src.get("username")),
            str(src.get("created_at")),
            str(src.get("csrf_token")),
        )
        if not hmac.compare_digest(expected, str(src.get("mac") or "")):
            # Forged or rewritten through OpenSearch: no session (and none for anyone else).
            self.delete(sid)
            return None
        sess = Session(
            id=sid,
            username=src["username"],
            created_at=parse_iso(src["created_at"]),
            last_seen=parse_iso(src["last_seen"]),
            csrf_token=src["csrf_token"],
            purpose_code=src.get("purpose_code"),
            purpose_reference=src.get("purpose_reference"),
        )
        now = utcnow()
        if now - sess.last_seen > timedelta(
            minutes=self.settings.session_idle_minutes
        ) or now - sess.created_at > timedelta(hours=self.settings.session_absolute_hours):
            self.delete(sid)
            return None
        if now - sess.last_seen > LAST_SEEN_GRANULARITY:
            self._touch(sid, now)
            sess.last_seen = now
        return sess

    def _update(self, sid: str, fields: dict[str, Any]) -> None:
        with contextlib.suppress(NotFoundError):
            self.client.update(
                index=self.write_index,
                id=sid,
                body={"doc": fields},
                retry_on_conflict=3,
                **request_write_params(self.settings),
            )

    def _touch(self, sid: str, now: datetime) -> None:
        """Move ``last_seen`` on; best effort. The idle timeout is the only thing it serves and
        it has a minute of slack anyway, so a write the engine cannot take just now (a shard
        between primaries while a node is lost) must not refuse the request it rides on."""
        try:
            self._update(sid, {"last_seen": iso(now)})
        except OpenSearchException as exc:
            log.warning("session last_seen not updated (%s); the request goes on", type(exc).__name__)

    def set_purpose(self, sid: str, code: str, reference: str | None) -> None:
        self._update(sid, {"purpose_code": code, "purpose_reference": reference})

    def delete(self, sid: str) -> None:
        with contextlib.suppress(NotFoundError):
            self.client.delete(index=self.write_index, id=sid, refresh=True)

    def delete_for_user(self, username: str) -> int:
        """End every session of ``username`` (account disabled or password reset)."""
        ensure_security_indices(self.client, self.settings)
        self.client.indices.refresh(index=self.index)
        res = self.client.delete_by_query(
            index=self.write_index,
            body={
                "query": {
                    "bool": {"filter": [{"term": {"kind": "session"}}, {"term": {"username": username}}]}
                }
            },
            refresh=True,
            conflicts="proceed",
        )
        return int(res.get("deleted", 0))


class LoginThrottle:
    """Failed-login counters per username and per client address, shared by all portal processes.

    ``login_max_failures`` failures within ``login_lockout_minutes`` lock the username for
    ``login_lockout_minutes``; an address is locked after ``login_max_failures_per_address``,
    set higher because a whole station can sit behind one NAT address. Unknown usernames
    are counted like known ones, so a lockout reveals nothing about which accounts exist.
    """

    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name("sessions")
        self.write_index = writer_target(settings, sessions_mapping)

    @staticmethod
    def keys(username: str, client_addr: str | None) -> list[str]:
        keys = [f"throttle:user:{username.strip().lower()[:128]}"]
        if client_addr:
            keys.append(f"throttle:addr:{client_addr}")
        return keys

    def locked(self, username: str, client_addr: str | None) -> bool:
        ensure_security_indices(self.client, self.settings)
        res = self.client.mget(index=self.index, body={"ids": self.keys(username, client_addr)})
        now = utcnow()
        for doc in res["docs"]:
            until = doc.get("_source", {}).get("locked_until") if doc.get("found") else None
            if until and parse_iso(until) > now:
                RATE_LIMIT_REFUSALS.labels("login_throttle").inc()
                return True
        return False

    def failure(self, username: str, client_addr: str | None) -> None:
        ensure_security_indices(self.client, self.settings)
        now = utcnow()
        window = timedelta(minutes=self.settings.login_lockout_minutes)
        for key in self.keys(username, client_addr):
            # Optimistic concurrency: concurrent failures from several processes all count.
            for _ in range(10):
                doc, version = self._get(key)
                failures = 0
                window_start = now
                if doc and doc.get("window_start"):
                    started = parse_iso(doc["window_start"])
                    if now - started <= window:
                        failures = int(doc.get("failures") or 0)
                        window_start = started
                failures += 1
                fields: dict[str, Any] = {
                    "kind": "throttle",
                    "key": key,
                    "failures": failures,
                    "window_start": iso(window_start),
                }
                if doc and doc.get("locked_until"):
                    fields["locked_until"] = doc["locked_until"]
                limit = (
                    self.settings.login_max_failures_per_address
                    if key.startswith("throttle:addr:")
                    else self.settings.login_max_failures
                )
                if failures >= limit:
                    fields.update(failures=0, locked_until=iso(now + window), window_start=None)
                try:
                    if version is None:
                        self.client.index(index=self.write_index, id=key, body=fields, op_type="create")
                    else:
                        self.client.index(
                            index=self.write_index,
                            id=key,
                            body=fields,
                            if_seq_no=version[0],
                            if_primary_term=version[1],
                        )
                    break
                except ConflictError:
                    continue

    def success(self, username: str) -> None:
        # Only the username's counter: a success on one account must not reset an address
        # that is guessing passwords for others.
        key = self.keys(username, None)[0]
        with contextlib.suppress(NotFoundError):
            self.client.delete(index=self.write_index, id=key)

    def _get(self, key: str) -> tuple[dict[str, Any] | None, tuple[int, int] | None]:
        try:
            doc = self.client.get(index=self.index, id=key)
        except NotFoundError:
            return None, None
        return dict(doc["_source"]), (int(doc["_seq_no"]), int(doc["_primary_term"]))
