"""Typed configuration, read from the environment (prefix ``LANTERN_``) and ``.env``.

Secrets that ship with the code are only acceptable in development: ``Settings`` refuses
to load with them when ``LANTERN_ENV`` is anything else.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, cast
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lantern.opensearch_security import Role, read_credentials, security_paths

DEV_SECRET_KEY = "lantern-development-secret-key-not-for-production"  # noqa: S105

Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LANTERN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = "development"

    # --- OpenSearch -------------------------------------------------------------------
    # Empty means "the embedded node": Lantern starts and owns it (TLS + authentication,
    # credentials generated under <embedded_home>/security). Any value means an external
    # cluster, and nothing embedded is ever started.
    opensearch_hosts: Annotated[list[AnyHttpUrl], NoDecode] = Field(default_factory=list)
    # One OpenSearch user per component, least privilege (see lantern/opensearch_security.py):
    # the portal, the indexer, and the admin that runs init/migrations. Passwords come from
    # these settings for an external cluster; the embedded node's are read from its
    # credentials file. ``opensearch_username``/``password`` is a fallback for all three.
    opensearch_portal_username: str = "lantern_portal"
    opensearch_portal_password: SecretStr | None = None
    opensearch_indexer_username: str = "lantern_indexer"
    opensearch_indexer_password: SecretStr | None = None
    opensearch_admin_username: str = "lantern_admin"
    opensearch_admin_password: SecretStr | None = None
    opensearch_username: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_verify_certs: bool = True
    opensearch_ca_file: Path | None = None
    opensearch_timeout_serving: float = 5.0
    opensearch_timeout_ingest: float = 120.0
    # The small writes a portal request makes (audit event, disclosures, rate-limit window,
    # session) may wait this long: when a node is lost, a write to a shard whose primary was
    # on it waits until the master promotes a replica (seconds, longer if the master itself
    # was lost), and giving up first turned a failover into a refused request (see
    # lantern.search_client.request_write_params).
    opensearch_timeout_write: float = Field(default=30.0, ge=2)

    index_prefix: str = "lantern-"
    index_shards: int = Field(default=1, ge=1)
    index_replicas: int = Field(default=0, ge=0)
    # Wait for this many shard copies before a write is acknowledged ("all" on a cluster
    # with replicas means a write survives the loss of a node right after it is acked).
    write_wait_for_active_shards: str = "1"

    # --- Backups (``lantern backup`` / ``lantern restore``) -------------------------------
    # The snapshot repository. When it is not registered yet, Lantern registers a shared
    # filesystem ("fs") repository at ``snapshot_location`` (every node must see that path,
    # and list it in ``path.repo``; the embedded node does). An object-storage repository
    # (repository-s3 plugin) registered by the operator under this name is used as it is.
    snapshot_repository: str = "lantern-backups"
    snapshot_location: Path = Path(".lantern/snapshots")

    # --- Embedded node ------------------------------------------------------------------
    embedded_port: int = 9200
    embedded_transport_port: int = 9300
    embedded_home: Path = Path(".lantern/opensearch")
    embedded_heap: str = "1g"
    embedded_java: str = "java"
    # The security plugin seeds its index at first start: minutes on a loaded 2-core machine.
    embedded_start_timeout: float = 300.0

    # --- Ingestion ----------------------------------------------------------------------
    ner_processes: int = Field(default=1, ge=1)
    ner_batch_size: int = Field(default=64, ge=1)
    bulk_chunk_size: int = Field(default=500, ge=1)
    bulk_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    bulk_max_retries: int = Field(default=8, ge=0)
    state_dir: Path = Path(".lantern/state")
    # Person resolution's DuckDB: the most memory it may hold before it spills scored pairs
    # to ``persons_temp_dir`` (a rebuild of a million mentions must not take the machine).
    persons_memory_limit: str = "4GB"
    persons_temp_dir: Path = Path(".lantern/duckdb-tmp")
    # Its threads. A load resolves each batch's people between two rounds of entity
    # extraction, while the NER processes wait: set it like ``ner_processes`` (the cores the
    # load may use); the blocking joins and scoring then run on several at once.
    persons_threads: int = Field(default=1, ge=1)
    # The force's reference formats and code lists (lantern/profile.py); unset: the shipped
    # default, lantern/default_profile.toml.
    force_profile: Path | None = None
    # The ingest API: largest NDJSON body accepted per call, and whether pushed records get
    # entity extraction (as file loads do by default).
    ingest_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    ingest_entities: bool = True

    # --- Documents and attachments (documents/) ---------------------------------------------
    # Originals live here, named by SHA-256 (see documents/store.py for the object-store path).
    documents_root: Path = Path(".lantern/documents")
    # Attachment paths in feeds are resolved inside this folder and may not leave it.
    attachments_root: Path = Path(".lantern/attachments")
    # Wall-clock limit for one document (Tika + OCR of all its pages); past it the document
    # fails with "timeout" and the load moves on.
    documents_time_limit: float = Field(default=180.0, gt=0)
    documents_max_chars: int = Field(default=5_000_000, ge=1000)
    documents_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    tika_threads: int = Field(default=2, ge=1)
    tika_heap: str = "512m"
    # Tesseract processes at once (each single-threaded): the cores, by default.
    ocr_workers: int = Field(default=0, ge=0)
    ocr_languages: str = "eng"
    # Zip archives: nesting depth, members and total unpacked size (bomb limits).
    archive_max_depth: int = Field(default=2, ge=0)
    archive_max_members: int = Field(default=500, ge=1)
    archive_max_total_bytes: int = Field(default=500 * 1024 * 1024, ge=1024)
    archive_max_ratio: float = Field(default=200.0, gt=1)

    # --- Map (issue 14) ------------------------------------------------------------------
    # A tile server the force runs or licenses, as a Leaflet URL template with {z}, {x} and {y}
    # (and optionally {s}), e.g. "https://tiles.force.example/{z}/{x}/{y}.png". Empty (the
    # default): no tiles, nothing fetched from outside the portal; places on a plain grid.
    # When set, its origin is added to the CSP's img-src and nothing else.
    map_tile_url: str = ""
    map_tile_attribution: str = ""

    # --- Portal -------------------------------------------------------------------------
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    portal_host: str = "127.0.0.1"
    portal_port: int = 8000
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=10, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    # One address may be a whole station behind NAT: spraying many accounts from one place
    # is still stopped, but one officer's typos do not lock the station out.
    login_max_failures_per_address: int = Field(default=30, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    # The audit anchor: signed checkpoints (seq, MAC, time) appended with fsync, outside
    # OpenSearch. An absolute path in production (relative ones are resolved against the
    # working directory in development); ship it to a WORM store (see README).
    audit_head_file: Path = Path(".lantern/audit-anchor.log")
    # HMAC keys of the audit chain, by key id (``lantern audit rotate-key``). Must not be
    # readable by whoever operates OpenSearch; created at first use outside production.
    audit_key_file: Path = Path(".lantern/audit-keys.json")
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed. Empty: none,
    # the client address is the TCP peer (a forged header cannot dodge the lockout or the audit).
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)
    export_max_rows: int = Field(default=10_000, ge=1)
    # Exports of more rows than this run as a job (``lantern worker``) with a page to poll
    # and a download when done; smaller ones are answered inside the request.
    export_inline_rows: int = Field(default=1_000, ge=0)

    # --- Bulk disclosure limits (issue 13) -------------------------------------------------
    # Roles that may export and run batch searches; a force sets its own list.
    bulk_roles: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["analyst", "supervisor"])
    # Export rows one user may take per UTC day; a supervisor may grant more (audited).
    export_daily_rows: int = Field(default=20_000, ge=1)
    # Per-user rate limits, in the `limits` package's notation ("60/minute;600/hour").
    rate_limit_search: str = "60/minute;1000/hour"
    rate_limit_suggest: str = "240/minute"
    rate_limit_record: str = "120/minute;2000/hour"
    rate_limit_batch: str = "6/minute;60/hour"
    rate_limit_export: str = "5/minute;50/hour"
    # Where the counters live: "opensearch" (the ratelimits index, shared by every portal
    # process), "memory://" (per process; N processes allow N times the limit) or any other
    # `limits` storage URI (e.g. "redis://host:6379").
    rate_limit_storage: str = "opensearch"
    rate_limits_enabled: bool = True
    # A user searching fast takes up to this many hits of a limit at once (a lease), spent by
    # this portal process without a round trip to the storage for `rate_limit_lease_seconds`;
    # unspent hits are given back then. Never more than a tenth of the smallest window's
    # limit; 0 or 1: every request is its own round trip (portal/security/ratelimit.py).
    rate_limit_lease: int = Field(default=5, ge=0)
    rate_limit_lease_seconds: float = Field(default=5.0, gt=0, le=60)

    # --- Anomaly flags (issue 13) -----------------------------------------------------------
    # Working hours (UTC, [start, end)); bulk actions outside them are flagged.
    working_hours_start: int = Field(default=7, ge=0, le=23)
    working_hours_end: int = Field(default=19, ge=1, le=24)
    # One audited search-like action in N is queued for supervisor review (0: none).
    review_sample_one_in: int = Field(default=50, ge=0)
    # A day's activity above this multiple of the user's own daily baseline is a spike.
    volume_spike_factor: float = Field(default=4.0, gt=1)
    volume_spike_min_actions: int = Field(default=50, ge=1)

    # --- Background jobs (``lantern worker``) ---------------------------------------------
    # A worker renews its lease after every chunk; a job whose lease has run out for this
    # long (its worker died) is taken over by another worker.
    # Prometheus metrics on their own port (not the portal's), loopback unless set otherwise.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    # JSON log lines (structlog); false gives readable console lines for development.
    log_json: bool = True
    # OpenTelemetry traces over OTLP/HTTP (e.g. "http://collector:4318"); unset: no tracing.
    otlp_endpoint: str | None = None
    otel_service_name: str = "lantern"
    job_lease_seconds: float = Field(default=30.0, gt=0)
    worker_poll_seconds: float = Field(default=1.0, gt=0)

    @field_validator("bulk_roles", mode="before")
    @classmethod
    def _split_roles(cls, value: object) -> object:
        if isinstance(value, str):
            return [r.strip() for r in value.split(",") if r.strip()]
        return value

    @field_validator("opensearch_hosts", "forwarded_allow_ips", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return ""
        parts = urlsplit(value)
        local = parts.hostname in {"localhost", "127.0.0.1", "::1"}
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise ValueError("LANTERN_MAP_TILE_URL must be an https:// URL (http:// only on localhost)")
        if not parts.hostname or any(f"{{{k}}}" not in value for k in "zxy"):
            raise ValueError("LANTERN_MAP_TILE_URL needs a host and {z}, {x} and {y} placeholders")
        if "{s}" in parts.netloc:
            raise ValueError(
                "LANTERN_MAP_TILE_URL: name one tile host (no {s} subdomains), so the CSP can name it"
            )
        if any(c in value for c in " ;'\"\n"):
            raise ValueError("LANTERN_MAP_TILE_URL may not contain spaces, quotes or semicolons")
        return value

    @property
    def map_tile_origin(self) -> str:
        """The tile server's origin (for the CSP's img-src), or "" without one."""
        if not self.map_tile_url:
            return ""
        parts = urlsplit(self.map_tile_url)
        return f"{parts.scheme}://{parts.netloc}"

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env == "production" and self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            raise ValueError("LANTERN_SECRET_KEY must be set to a unique random value outside development")
        if self.env == "production" and not self.audit_head_file.is_absolute():
            raise ValueError("LANTERN_AUDIT_HEAD_FILE (the audit anchor) must be an absolute path")
        for name in ("password", "portal_password", "indexer_password", "admin_password"):
            secret = getattr(self, f"opensearch_{name}")
            if (
                self.env == "production"
                and secret is not None
                and secret.get_secret_value() in {"admin", "changeme", ""}
            ):
                raise ValueError(f"LANTERN_OPENSEARCH_{name.upper()} is a default password; set a real one")
        return self

    @property
    def embedded(self) -> bool:
        return not self.opensearch_hosts

    def opensearch_credentials(self, role: Role) -> tuple[str, str] | None:
        """(username, password) the ``role`` component signs in to OpenSearch with, or None."""
        username = cast(str, getattr(self, f"opensearch_{role}_username"))
        password = cast("SecretStr | None", getattr(self, f"opensearch_{role}_password"))
        if password is not None:
            return username, password.get_secret_value()
        if self.embedded:
            generated = read_credentials(security_paths(self.embedded_home)) or {}
            if role in generated:
                return username, generated[role]
            return None
        if self.opensearch_username:
            fallback = self.opensearch_password.get_secret_value() if self.opensearch_password else ""
            return self.opensearch_username, fallback
        return None

    @property
    def opensearch_ca(self) -> Path | None:
        """CA bundle that verifies the cluster's certificates (the embedded node's own CA)."""
        if self.opensearch_ca_file is not None:
            return self.opensearch_ca_file
        if self.embedded:
            return security_paths(self.embedded_home).ca_cert
        return None

    def index_name(self, base: str) -> str:
        """Alias name for a logical index, e.g. ``records`` -> ``lantern-records``."""
        return f"{self.index_prefix}{base}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
