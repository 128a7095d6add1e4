"""Accounts and the identity source.

The portal asks an :class:`IdentityProvider` two things: "are these credentials right?"
(:meth:`authenticate`) and "who is this user now?" (:meth:`get`, called on every request so
that a disabled account loses access at once). :class:`LocalIdentityProvider` is the
embedded default: accounts in the OpenSearch ``users`` index, argon2id hashes, managed with
``lantern users ...``.

Plugging in a force's OIDC provider (Entra ID, Keycloak, ADFS): write a class with the same
two methods, backed by the provider. ``authenticate`` is then not used for passwords: add a
``/login/oidc`` route (authorisation-code flow with PKCE, e.g. with Authlib) that validates
the ID token, maps its claims (``preferred_username``, group claims for roles, units and
clearances) to a :class:`User`, and calls ``portal.security.sessions.SessionStore.create``
exactly as the password login does, so sessions, CSRF, purpose and audit are unchanged.
``get`` should read the same claims from a local cache refreshed from the provider (or the
SCIM/Graph API) so that disabling the account at the provider ends the session here.
Set ``app.state.security.identity`` to the new provider after ``install_security``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from cachetools import TTLCache
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from lantern import passwords
from lantern.clock import iso, utcnow
from lantern.indices import ensure_once, writer_target
from lantern.principal import INTEL_C_CLEARANCE, INTEL_CLEARANCE, ROLES, Principal
from lantern.records import Sensitivity
from lantern.settings import Settings
from mappings import users as users_mapping

CLEARANCES: tuple[str, ...] = (*(s.value for s in Sensitivity), INTEL_CLEARANCE, INTEL_C_CLEARANCE)
_USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    units: frozenset[str] = field(default_factory=frozenset)
    clearances: frozenset[str] = field(default_factory=frozenset)
    disabled: bool = False

    def principal(self) -> Principal:
        return Principal(self.username, self.display_name, self.roles, self.units, self.clearances)


class IdentityProvider(Protocol):
    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the credentials are right and the account is enabled, else None."""

    def get(self, username: str) -> User | None:
        """The current account (None if unknown); ``disabled`` tells whether it may act."""


class UserError(ValueError):
    """A bad username, role, clearance or password given to an account command."""


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not name or len(name) > 64 or not set(name) <= _USERNAME_CHARS:
        raise UserError("username must be 1-64 characters: a-z, 0-9, '.', '_' or '-'")
    return name


def _validate(roles: Iterable[str], clearances: Iterable[str]) -> tuple[list[str], list[str]]:
    r = sorted(set(roles))
    c = sorted(set(clearances))
    if not r:
        raise UserError("a user needs at least one role")
    bad_roles = [x for x in r if x not in ROLES]
    if bad_roles:
        raise UserError(f"unknown role(s) {bad_roles}; choose from {list(ROLES)}")
    bad_cl = [x for x in c if x not in CLEARANCES]
    if bad_cl:
        raise UserError(f"unknown clearance(s) {bad_cl}; choose from {list(CLEARANCES)}")
    return r, c


def _from_source(src: dict[str, object]) -> User:
    def fs(key: str) -> frozenset[str]:
        value = src.get(key) or []
        return frozenset(str(v) for v in value) if isinstance(value, list) else frozenset()

    return User(
        username=str(src["username"]),
        display_name=str(src.get("display_name") or src["username"]),
        roles=fs("roles"),
        units=fs("units"),
        clearances=fs("clearances"),
        disabled=bool(src.get("disabled")),
    )


class UserStore:
    """Accounts in the ``users`` index (one document per user, ``_id`` = username)."""

    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name("users")
        self.write_index = writer_target(settings, users_mapping)

    def _ensure(self) -> None:
        # The users index only: the indexer's OpenSearch user reads accounts (alert owners)
        # and has no business with sessions.
        ensure_once(self.client, self.settings, (users_mapping,))

    def _source(self, username: str) -> dict[str, object] | None:
        self._ensure()
        try:
            doc = self.client.get(index=self.index, id=username)
        except NotFoundError:
            return None
        return dict(doc["_source"])

    def get(self, username: str) -> User | None:
        try:
            name = normalise_username(username)
        except UserError:
            return None
        src = self._source(name)
        return _from_source(src) if src else None

    def password_hash(self, username: str) -> str | None:
        src = self._source(username)
        return str(src["password_hash"]) if src and src.get("password_hash") else None

    def create(
        self,
        username: str,
        password: str,
        *,
        roles: Iterable[str],
        units: Iterable[str] = (),
        clearances: Iterable[str] = (),
        display_name: str | None = None,
        check_policy: bool = True,
        home_postcodes: Iterable[str] = (),
    ) -> User:
        name = normalise_username(username)
        r, c = _validate(roles, clearances)
        if check_policy:
            try:
                passwords.check_password_policy(password, [name, display_name or ""])
            except ValueError as exc:
                raise UserError(str(exc)) from exc
        self._ensure()
        now = iso(utcnow())
        doc = {
            "username": name,
            "display_name": (display_name or name).strip(),
            "roles": r,
            "units": sorted({u.strip() for u in units if u.strip()}),
            "clearances": c,
            "password_hash": passwords.hash_password(password),
            "disabled": False,
            "created_at": now,
            "updated_at": now,
            "password_changed_at": now,
        }
        postcodes = sorted({p.strip().upper() for p in home_postcodes if p.strip()})
        if postcodes:  # for the own_postcode anomaly flag (lantern.anomalies)
            doc["home_postcodes"] = postcodes
        try:
            self.client.index(index=self.write_index, id=name, body=doc, op_type="create", refresh="wait_for")
        except ConflictError as exc:
            raise UserError(f"user {name!r} already exists") from exc
        return _from_source(doc)

    def _update(self, username: str, fields: dict[str, object]) -> None:
        name = normalise_username(username)
        self._ensure()
        fields = {**fields, "updated_at": iso(utcnow())}
        try:
            self.client.update(
                index=self.write_index, id=name, body={"doc": fields}, refresh="wait_for", retry_on_conflict=3
            )
        except NotFoundError as exc:
            raise UserError(f"no such user {name!r}") from exc
        _status_cache.forget(name)

    def set_disabled(self, username: str, disabled: bool) -> None:
        self._update(username, {"disabled": disabled})

    def set_password(self, username: str, password: str, *, check_policy: bool = True) -> None:
        if check_policy:
            try:
                passwords.check_password_policy(password, [username])
            except ValueError as exc:
                raise UserError(str(exc)) from exc
        self._update(
            username,
            {"password_hash": passwords.hash_password(password), "password_changed_at": iso(utcnow())},
        )

    def rehash(self, username: str, password: str) -> None:
        self._update(username, {"password_hash": passwords.hash_password(password)})

    def list(self) -> list[User]:
        self._ensure()
        self.client.indices.refresh(index=self.index)
        res = self.client.search(
            index=self.index,
            body={"size": 10_000, "sort": [{"username": "asc"}], "_source": {"excludes": ["password_hash"]}},
        )
        return [_from_source(h["_source"]) for h in res["hits"]["hits"]]


class _StatusCache:
    """A few seconds of memory for per-request account checks (sessions are still checked each time).

    Per process and bounded: a disabled account is refused by every portal process within
    ``ttl`` seconds (at once by the process that disabled it, which calls ``forget``), and
    its sessions are deleted from the shared index at once anyway.
    """

    ttl = 5.0

    def __init__(self) -> None:
        self._data: TTLCache[tuple[str, str], User | None] = TTLCache(maxsize=10_000, ttl=self.ttl)
        self._lock = threading.Lock()

    def get(self, index: str, username: str) -> tuple[bool, User | None]:
        with self._lock:
            if (index, username) in self._data:
                return True, self._data[(index, username)]
        return False, None

    def put(self, index: str, username: str, user: User | None) -> None:
        with self._lock:
            self._data[(index, username)] = user

    def forget(self, username: str) -> None:
        with self._lock:
            for key in [k for k in self._data if k[1] == username]:
                self._data.pop(key, None)


_status_cache = _StatusCache()


class LocalIdentityProvider:
    """Local accounts with argon2id passwords (the embedded default)."""

    def __init__(self, store: UserStore) -> None:
        self.store = store

    def authenticate(self, username: str, password: str) -> User | None:
        try:
            name = normalise_username(username)
        except UserError:
            passwords.verify_password(None, password)
            return None
        src = self.store._source(name)
        stored = str(src["password_hash"]) if src and src.get("password_hash") else None
        if not passwords.verify_password(stored, password) or src is None or stored is None:
            return None
        user = _from_source(src)
        if user.disabled:
            return None
        if passwords.needs_rehash(stored):
            self.store.rehash(name, password)
        return user

    def get(self, username: str) -> User | None:
        hit, user = _status_cache.get(self.store.index, username)
        if hit:
            return user
        user = self.store.get(username)
        _status_cache.put(self.store.index, username, user)
        return user


def create_user(
    client: OpenSearch,
    settings: Settings,
    username: str,
    password: str,
    *,
    roles: Iterable[str],
    units: Iterable[str] = (),
    clearances: Iterable[str] = (),
    display_name: str | None = None,
) -> User:
    """Create a local account (test helper and the CLI's ``users add``)."""
    return UserStore(client, settings).create(
        username,
        password,
        roles=roles,
        units=units,
        clearances=clearances,
        display_name=display_name,
        check_policy=False,
    )
