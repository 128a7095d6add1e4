"""Service accounts: how a source system authenticates to the ingest API.

One account per source system, holding the record types it may write and an expiry. Its
token is ``lsa_<account>_<token id>_<secret>``: the account names the document to read,
the token id names the token in the audit trail (never the secret), and the secret is
checked against a SHA-256 hash. A fast hash is enough because the secret is 256 bits from
``secrets`` (nothing to guess or brute-force, unlike a password, which is why user
passwords use a slow KDF and these do not). Rotating replaces the hash: the old token stops
working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError

from lantern import indices
from lantern.records import RecordType
from lantern.settings import Settings
from mappings import service_accounts as SA

TOKEN_PREFIX = "lsa"  # noqa: S105 (a token prefix, not a secret)
_TOKEN = re.compile(
    r"^lsa_(?P<account>[a-z0-9-]{1,64})_(?P<token_id>[a-f0-9]{8})_(?P<secret>[A-Za-z0-9_-]{43})$"
)


class AccountError(ValueError):
    """A service-account command cannot be done (unknown account, duplicate, bad type)."""


@dataclass(frozen=True)
class ServiceAccount:
    account: str
    source_system: str
    record_types: tuple[str, ...]
    token_id: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    rotated_at: datetime | None = None
    disabled: bool = False

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expires_at


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a presented token."""

    account: ServiceAccount | None
    problem: str | None  # None: accepted
    token_id: str | None = None


def account_name(source_system: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", source_system.lower()).strip("-")
    if not name:
        raise AccountError(f"source system {source_system!r} has no letters or digits")
    return name[:64]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class ServiceAccounts:
    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name(SA.NAME)
        self._ensured = False

    def _ensure(self) -> None:
        if not self._ensured:
            indices.ensure(self.client, self.settings, SA)
            self._ensured = True

    def _write(self, acc: ServiceAccount, *, create: bool = False) -> None:
        # create: op_type=create, so of two racing creates for one source system one fails.
        self.client.index(
            index=indices.writer_target(self.settings, SA),
            id=acc.account,
            body={
                SA.ACCOUNT: acc.account,
                SA.SOURCE_SYSTEM: acc.source_system,
                SA.RECORD_TYPES: list(acc.record_types),
                SA.TOKEN_ID: acc.token_id,
                SA.TOKEN_HASH: acc.token_hash,
                SA.CREATED_AT: acc.created_at.isoformat(),
                SA.ROTATED_AT: acc.rotated_at.isoformat() if acc.rotated_at else None,
                SA.EXPIRES_AT: acc.expires_at.isoformat(),
                SA.DISABLED: acc.disabled,
            },
            refresh="wait_for",
            op_type="create" if create else "index",
        )

    def get(self, account: str) -> ServiceAccount | None:
        self._ensure()
        got = self.client.get(index=self.index, id=account, ignore=[404])
        if not got.get("found"):
            return None
        src = got["_source"]
        return ServiceAccount(
            account=src[SA.ACCOUNT],
            source_system=src[SA.SOURCE_SYSTEM],
            record_types=tuple(src.get(SA.RECORD_TYPES) or ()),
            token_id=src[SA.TOKEN_ID],
            token_hash=src[SA.TOKEN_HASH],
            created_at=datetime.fromisoformat(src[SA.CREATED_AT]),
            expires_at=datetime.fromisoformat(src[SA.EXPIRES_AT]),
            rotated_at=_parse_time(src.get(SA.ROTATED_AT)),
            disabled=bool(src.get(SA.DISABLED)),
        )

    def all(self) -> list[ServiceAccount]:
        self._ensure()
        self.client.indices.refresh(index=self.index)
        hits = self.client.search(index=self.index, body={"size": 1000, "sort": [{SA.ACCOUNT: "asc"}]})
        return [acc for h in hits["hits"]["hits"] if (acc := self.get(h["_id"])) is not None]

    @staticmethod
    def _check_types(record_types: list[str]) -> tuple[str, ...]:
        known = [t.value for t in RecordType]
        bad = [t for t in record_types if t not in known]
        if bad or not record_types:
            raise AccountError(
                f"record types must be some of {', '.join(known)}; got {record_types or 'none'}"
            )
        return tuple(sorted(set(record_types)))

    def _issue(self) -> tuple[str, str, str]:
        token_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        return token_id, secret, _hash(secret)

    def create(
        self, source_system: str, record_types: list[str], *, valid_days: int = 365
    ) -> tuple[ServiceAccount, str]:
        """A new account for ``source_system``; returns it and its token (shown once)."""
        self._ensure()
        name = account_name(source_system)
        if self.get(name) is not None:
            raise AccountError(
                f"source system {source_system!r} already has an account ({name}); rotate its token"
            )
        types = self._check_types(record_types)
        token_id, secret, digest = self._issue()
        now = datetime.now(UTC)
        acc = ServiceAccount(
            name, source_system, types, token_id, digest, now, now + timedelta(days=valid_days)
        )
        try:
            self._write(acc, create=True)
        except ConflictError as exc:  # lost a race with another create
            raise AccountError(f"source system {source_system!r} already has an account ({name})") from exc
        return acc, f"{TOKEN_PREFIX}_{name}_{token_id}_{secret}"

    def rotate(self, account: str, *, valid_days: int | None = None) -> tuple[ServiceAccount, str]:
        """A new token for ``account``; the old one stops working now."""
        acc = self.get(account)
        if acc is None:
            raise AccountError(f"no service account {account!r}")
        token_id, secret, digest = self._issue()
        now = datetime.now(UTC)
        expires = now + timedelta(days=valid_days) if valid_days is not None else max(acc.expires_at, now)
        new = ServiceAccount(
            acc.account,
            acc.source_system,
            acc.record_types,
            token_id,
            digest,
            acc.created_at,
            expires,
            rotated_at=now,
            disabled=acc.disabled,
        )
        self._write(new)
        return new, f"{TOKEN_PREFIX}_{acc.account}_{token_id}_{secret}"

    def update(
        self,
        account: str,
        *,
        record_types: list[str] | None = None,
        expires_at: datetime | None = None,
        disabled: bool | None = None,
    ) -> ServiceAccount:
        acc = self.get(account)
        if acc is None:
            raise AccountError(f"no service account {account!r}")
        new = ServiceAccount(
            acc.account,
            acc.source_system,
            self._check_types(record_types) if record_types is not None else acc.record_types,
            acc.token_id,
            acc.token_hash,
            acc.created_at,
            expires_at or acc.expires_at,
            acc.rotated_at,
            acc.disabled if disabled is None else disabled,
        )
        self._write(new)
        return new

    def verify(self, token: str | None) -> Verdict:
        """Check a presented token; the verdict's problem says why it is refused."""
        if not token:
            return Verdict(None, "no token: send 'Authorization: Bearer <service account token>'")
        m = _TOKEN.match(token.strip())
        if m is None:
            return Verdict(None, "not a Lantern service-account token")
        acc = self.get(m["account"])
        token_id = m["token_id"]
        if (
            acc is None
            or not hmac.compare_digest(acc.token_hash, _hash(m["secret"]))
            or acc.token_id != token_id
        ):
            return Verdict(None, "unknown or revoked token", token_id)
        if acc.disabled:
            return Verdict(acc, "the service account is disabled", token_id)
        if acc.expired():
            return Verdict(acc, f"the token expired at {acc.expires_at.isoformat()}", token_id)
        return Verdict(acc, None, token_id)
