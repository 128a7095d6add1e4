"""TLS, users and roles for the embedded OpenSearch node (the security plugin).

Everything here is generated at first start under ``<embedded home>/security`` (never
committed): a root CA, one node certificate shared by every node of the layout (SAN
``localhost``/``127.0.0.1``), an admin client certificate (the only key that can change the
security configuration), and one generated password per Lantern component in
``credentials.json`` (mode 0600), which the embedded settings read.

Least privilege, one internal user per component:

- ``lantern_portal`` reads records (only through the gateway, which adds the access filter)
  and writes its own stores (sessions, users, saved queries, notifications, percolator,
  charts), and may only *create* audit events and disclosures: it holds no update or delete
  permission there, and those indices' final ingest pipeline refuses every write that is not
  ``op_type=create`` (see ``mappings/audit.py`` for why a role alone cannot do it, and why a
  data stream does not either). It cannot create, delete or change any index.
- ``lantern_indexer`` writes records, persons, tombstones and the notifications percolation
  makes, keeps the percolator in step with the saved queries at every load, creates audit
  events, and reads service accounts (the ingest API runs as this user).
- ``lantern_admin`` runs ``lantern index init`` / ``migrate``, user and service-account
  administration.

Per index, ``INDEX_ACCESS`` below is the whole table; every ``mappings/`` index must be in it.
Proved in ``tests/security/test_opensearch_roles.py``.

This module imports nothing from ``lantern.settings`` so settings can read credentials from
it without an import cycle.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import shutil
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import bcrypt
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Role = Literal["portal", "indexer", "admin"]
ROLES: tuple[Role, ...] = ("portal", "indexer", "admin")
USERNAMES: dict[Role, str] = {
    "portal": "lantern_portal",
    "indexer": "lantern_indexer",
    "admin": "lantern_admin",
}

NODE_DN = "CN=lantern-node,OU=nodes,O=Lantern"
ADMIN_DN = "CN=lantern-admin,OU=admin,O=Lantern"
CA_DN = "CN=Lantern embedded root CA,O=Lantern"
PLUGIN_NAME = "opensearch-security"


@dataclass(frozen=True)
class SecurityPaths:
    """Files of one embedded layout's security material (``<embedded home>/security``)."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "root-ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "root-ca-key.pem"

    @property
    def node_cert(self) -> Path:
        return self.root / "node.pem"

    @property
    def node_key(self) -> Path:
        return self.root / "node-key.pem"

    @property
    def admin_cert(self) -> Path:
        return self.root / "admin.pem"

    @property
    def admin_key(self) -> Path:
        return self.root / "admin-key.pem"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.json"


def security_paths(embedded_home: Path) -> SecurityPaths:
    return SecurityPaths(embedded_home.resolve() / "security")


# ---------------------------------------------------------------------- certificates


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret readable by the owner only (created 0600, never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o600)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pkcs8(key: rsa.RSAPrivateKey) -> bytes:
    # The security plugin reads PKCS#8 PEM keys (not the PKCS#1 "RSA PRIVATE KEY" form).
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(dn: str) -> x509.Name:
    oids = {"CN": NameOID.COMMON_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "O": NameOID.ORGANIZATION_NAME}
    parts = [p.split("=", 1) for p in dn.split(",")]
    # RFC 4514 strings list the most specific part first; x509.Name wants the reverse.
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in reversed(parts)])


def _cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650 if ca else 825))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        assert issuer is not None
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        ).add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # Node certificates serve HTTP and act as both ends of transport connections.
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def ensure_certificates(paths: SecurityPaths) -> bool:
    """Create the CA, node and admin certificates unless they exist. True if created."""
    needed = [paths.ca_cert, paths.ca_key, paths.node_cert, paths.node_key, paths.admin_cert, paths.admin_key]
    if all(p.exists() for p in needed):
        return False
    paths.root.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.root, 0o700)
    ca_key = _key()
    ca = _cert(CA_DN, ca_key, None, ca_key, ca=True)
    node_key = _key()
    node = _cert(NODE_DN, node_key, ca, ca_key, server=True)
    admin_key = _key()
    admin = _cert(ADMIN_DN, admin_key, ca, ca_key)
    pem = serialization.Encoding.PEM
    _write_private(paths.ca_key, _pkcs8(ca_key))
    _write_private(paths.node_key, _pkcs8(node_key))
    _write_private(paths.admin_key, _pkcs8(admin_key))
    paths.node_cert.write_bytes(node.public_bytes(pem))
    paths.admin_cert.write_bytes(admin.public_bytes(pem))
    # Written last: its presence means the set is complete.
    paths.ca_cert.write_bytes(ca.public_bytes(pem))
    return True


# ----------------------------------------------------------------------- credentials


def ensure_credentials(paths: SecurityPaths) -> dict[Role, str]:
    """The generated password of each component, created at first start (file mode 0600)."""
    existing = read_credentials(paths)
    if existing is not None and all(r in existing for r in ROLES):
        return existing
    creds: dict[Role, str] = {role: secrets.token_urlsafe(24) for role in ROLES}
    body = {role: {"username": USERNAMES[role], "password": pw} for role, pw in creds.items()}
    _write_private(paths.credentials, json.dumps(body, indent=2).encode())
    return creds


def read_credentials(paths: SecurityPaths) -> dict[Role, str] | None:
    try:
        raw = json.loads(paths.credentials.read_text())
    except (OSError, ValueError):
        return None
    return {role: str(raw[role]["password"]) for role in ROLES if role in raw}


# bcrypt's cost protects passwords a person chose, which can be guessed; these are generated
# 192-bit secrets (``ensure_credentials``), out of reach of any guessing at any cost. At cost 12
# each hash took 1.4 s here under load, paid for every user at every node start and by every
# node when it first checks a user (and again after each security configuration change).
COMPONENT_BCRYPT_ROUNDS = 5


def bcrypt_hash(password: str) -> str:
    """The hash of a generated component password (never of a password a person chose)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=COMPONENT_BCRYPT_ROUNDS)).decode()


# ------------------------------------------------------------------------------ roles

_READ = [
    "indices:data/read*",
    "indices:admin/mappings/fields/get*",
    "indices:admin/mappings/get",
    "indices:admin/get",
    "indices:admin/aliases/get",
    "indices:admin/resolve/index",
    "indices:monitor/settings/get",
    # Running an index's analyzers over given text (reads no document): alert matching at
    # load time turns the batch's text into the terms a fuzzy clause may reach.
    "indices:admin/analyze",
    # Indexing counters (no content): a long-running ingest API reloads the nominals when
    # another process wrote persons or decisions (indexer/nominals.py).
    "indices:monitor/stats",
]
_REFRESH = ["indices:admin/refresh*"]
_CRUD = [
    "indices:data/write/index",
    "indices:data/write/update*",
    "indices:data/write/delete",
    "indices:data/write/bulk*",
]
# Creates only: no update/delete, and the audit index's final pipeline refuses any
# op_type other than create (indices:data/write/index alone would also allow overwrites).
_CREATE_ONLY = ["indices:data/write/index", "indices:data/write/bulk*"]
_CLUSTER_CLIENT = [
    "cluster:monitor/main",
    "cluster:monitor/health",
    "cluster:monitor/state",
    "indices:data/read/scroll*",
    "indices:data/read/msearch*",
    "indices:data/read/mget*",
    "indices:data/read/mtv*",
    "indices:data/write/bulk",
    "indices:data/read/point_in_time/delete",
    "indices:admin/data_stream/get",
    "cluster:admin/data_stream/get",
]


# What a component may do with one logical index (a ``mappings/*.py`` NAME):
#   read   - search, get, count, point-in-time;
#   create - read and append only: no update, no delete, and the index's append-only guard
#            pipeline refuses an overwrite through ``indices:data/write/index``;
#   write  - read, create, update and delete documents (incl. by query: signing a user out
#            everywhere), never the index itself;
#   manage - write, plus create/delete indices and move aliases (``index load --rebuild``).
# An index missing from a component's entry is closed to it. The admin (``all_access``) runs
# ``index init``/``migrate`` and user administration on every index. Every index module must
# appear here, even if only the admin touches it (tests/security/test_opensearch_roles.py).
Access = Literal["read", "create", "write", "manage"]
Component = Literal["portal", "indexer"]
INDEX_ACCESS: dict[str, dict[Component, Access]] = {
    # The portal reads records only through the gateway (search/), which adds the access filter.
    "records": {"portal": "read", "indexer": "manage"},
    # The hash-chained audit trail and its per-record disclosure log: append-only for everyone.
    "audit": {"portal": "create", "indexer": "create"},
    "disclosures": {"portal": "create"},
    # The portal's own stores.
    "sessions": {"portal": "write"},
    "users": {"portal": "write", "indexer": "read"},
    # Saved searches and their alert queries: the portal registers a query when it is saved.
    # Every load (`lantern index load`, the ingest API at start-up) first brings the
    # percolator in step with the records mapping (rebuilding it under a new index when the
    # mapping changed) and registers saved queries not yet registered under it, recording
    # the outcome on each saved query: so the indexer manages the percolator and writes
    # saved queries. (A saved query it rewrote still alerts its owner only on records the
    # owner may read: notifications are filtered per recipient.)
    "saved_queries": {"portal": "write", "indexer": "write"},
    "percolator": {"portal": "write", "indexer": "manage"},
    "charts": {"portal": "write"},
    # Alerts: percolation at load time makes notifications; the portal marks them read. A
    # record deleted at source takes its notifications with it (the indexer, by query).
    "notifications": {"portal": "write", "indexer": "write"},
    # Deletions at source (`lantern index delete`, the ingest API's DELETE): the indexer
    # writes the tombstone and checks it before every records write; nothing else reads it.
    "tombstones": {"indexer": "write"},
    # The ingest API (served with the indexer's credentials, in `lantern serve` or on its
    # own) only verifies tokens; issuing, rotating and disabling accounts is administration
    # (`lantern ingest-account`, as the admin), so a leaked indexer password cannot mint a
    # service account or widen one's record types.
    "service_accounts": {"indexer": "read"},
    # Persons (issue 10): nominals are derived from records by the indexer (at load time and
    # `lantern persons rebuild`); the portal reads them and recomputes what it shows from
    # the records the viewer may read. Analysts' "same person" decisions are primary data:
    # the portal only adds them (no update or delete: the latest decision on a pair wins),
    # the indexer reads them on every rebuild.
    "persons": {"portal": "read", "indexer": "write"},
    "person_decisions": {"portal": "create", "indexer": "read"},
    # Postcode -> point reference data (issue 14): loaded by `lantern gazetteer load` as the
    # indexer, which also reads it to place records; search reads it for near:POSTCODE.
    "gazetteer": {"portal": "read", "indexer": "write"},
    # Background jobs (issue 17): a portal process queues a batch and polls it; `lantern
    # worker` leases, runs and finishes it. The worker is portal code reading records through
    # the gateway as the job's owner and writing audit and disclosures, so it signs in as the
    # portal's user (the indexer's may not create disclosures, and needs no job).
    "jobs": {"portal": "write"},
    # Rate-limit windows shared by every portal process (LANTERN_RATE_LIMIT_STORAGE=opensearch):
    # one scripted update per limited request; the worker purges stale windows.
    "ratelimits": {"portal": "write"},
}

_MANAGE = [
    "indices:admin/create",
    "indices:admin/delete",
    "indices:admin/aliases*",
    "indices:admin/settings/update",
    "indices:admin/forcemerge*",
    "indices:monitor/*",
]
_ACTIONS: dict[Access, list[str]] = {
    "read": [*_READ, *_REFRESH, "indices:data/read/point_in_time/create"],
    "create": [*_READ, *_REFRESH, *_CREATE_ONLY],
    "write": [*_READ, *_REFRESH, *_CRUD, "indices:data/write/delete/byquery"],
    "manage": [*_READ, *_REFRESH, *_CRUD, "indices:data/write/delete/byquery", *_MANAGE],
}
_DESCRIPTIONS: dict[Component, str] = {
    "portal": "Lantern portal: reads records, writes its own stores, only creates audit events",
    "indexer": "Lantern indexer: writes records and the notifications percolation makes",
}


def index_patterns(prefix: str, names: Iterable[str]) -> list[str]:
    """Aliases and physical indices of ``names`` under ``prefix``, including test runs that
    extend the prefix (``lantern-`` also covers ``lantern-test-1a2b3c-records``)."""
    out: list[str] = []
    for n in names:
        out += [f"{prefix}{n}", f"{prefix}{n}-*", f"{prefix}*-{n}", f"{prefix}*-{n}-*"]
    return out


def roles_config(prefix: str) -> dict[str, Any]:
    roles: dict[str, Any] = {}
    for component, description in _DESCRIPTIONS.items():
        by_access: dict[Access, list[str]] = {}
        for name, grants in INDEX_ACCESS.items():
            if component in grants:
                by_access.setdefault(grants[component], []).append(name)
        roles[f"lantern_{component}"] = {
            "description": description,
            "cluster_permissions": _CLUSTER_CLIENT,
            "index_permissions": [
                {"index_patterns": index_patterns(prefix, names), "allowed_actions": _ACTIONS[access]}
                for access, names in by_access.items()
            ],
        }
    return roles


def roles_mapping_config() -> dict[str, Any]:
    return {
        "lantern_portal": {"users": [USERNAMES["portal"]]},
        "lantern_indexer": {"users": [USERNAMES["indexer"]]},
        # Init, migrations, user administration: every index, no security configuration
        # (that takes the admin certificate).
        "all_access": {"users": [USERNAMES["admin"]]},
    }


def internal_users_config(creds: Mapping[Role, str]) -> dict[str, Any]:
    return {
        USERNAMES[role]: {"hash": bcrypt_hash(pw), "description": f"Lantern {role}"}
        for role, pw in creds.items()
    }


def _meta(kind: str) -> dict[str, Any]:
    return {"_meta": {"type": kind, "config_version": 2}}


def auth_config() -> dict[str, Any]:
    return {
        "config": {
            "dynamic": {
                # A request over "all indices" (``GET _alias/<name>``, ``_cat``) is narrowed to
                # the indices the caller may see instead of failing outright.
                "do_not_fail_on_forbidden": True,
                "http": {"anonymous_auth_enabled": False, "xff": {"enabled": False}},
                "authc": {
                    "basic_internal_auth_domain": {
                        "description": "HTTP Basic against the internal users Lantern creates",
                        "http_enabled": True,
                        "order": 0,
                        "http_authenticator": {"type": "basic", "challenge": True},
                        "authentication_backend": {"type": "intern"},
                    }
                },
                "authz": {},
            }
        }
    }


def write_security_config(config_dir: Path, prefix: str, creds: Mapping[Role, str]) -> None:
    """``<config>/opensearch-security/*.yml``, seeded into the security index at first start.

    Written from scratch: none of the plugin's demo users, roles or passwords is copied.
    """
    out = config_dir / "opensearch-security"
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {
        "config.yml": {**_meta("config"), **auth_config()},
        "internal_users.yml": {**_meta("internalusers"), **internal_users_config(creds)},
        "roles.yml": {**_meta("roles"), **roles_config(prefix)},
        "roles_mapping.yml": {**_meta("rolesmapping"), **roles_mapping_config()},
        "action_groups.yml": _meta("actiongroups"),
        "tenants.yml": _meta("tenants"),
        "nodes_dn.yml": _meta("nodesdn"),
        "allowlist.yml": {**_meta("allowlist"), "config": {"enabled": False}},
        "audit.yml": {**_meta("audit"), "config": {"enabled": False}},
    }
    os.chmod(config_dir, 0o700)
    os.chmod(out, 0o700)
    for name, body in files.items():
        # Round-trip through JSON: shared lists would otherwise become YAML anchors, which the
        # plugin's parser rejects.
        _write_private(out / name, yaml.safe_dump(json.loads(json.dumps(body)), sort_keys=False).encode())


def node_security_settings(config_dir: Path, paths: SecurityPaths, *, seed: bool = True) -> dict[str, str]:
    """``opensearch.yml`` lines for TLS on HTTP and transport plus authentication; ``seed``: the
    node that creates the security index (one per cluster)."""
    for src, name in (
        (paths.node_cert, "node.pem"),
        (paths.node_key, "node-key.pem"),
        (paths.ca_cert, "root-ca.pem"),
    ):
        _write_private(config_dir / name, src.read_bytes())
    lines = {}
    for layer in ("transport", "http"):
        lines[f"plugins.security.ssl.{layer}.pemcert_filepath"] = "node.pem"
        lines[f"plugins.security.ssl.{layer}.pemkey_filepath"] = "node-key.pem"
        lines[f"plugins.security.ssl.{layer}.pemtrustedcas_filepath"] = "root-ca.pem"
    lines.update(
        {
            "plugins.security.ssl.http.enabled": "true",
            "plugins.security.ssl.transport.enforce_hostname_verification": "false",
            # One node seeds the security index from the yml files (once, when the cluster
            # has formed and the index is missing); the others wait for it and load it. When
            # every node seeded, they raced to create the index and upload each file (one
            # refresh each, replicated to every node): over a minute of a three-node start
            # under load. (The plugin's `use_cluster_state` variant, where the elected cluster
            # manager seeds in one bulk, was tried and dropped: on a restart with existing
            # data the manager sees the index missing in its first, unrecovered cluster
            # state, fails to create it and never initialises - 2.19.4, still so upstream.)
            "plugins.security.allow_default_init_securityindex": "true" if seed else "false",
            # The same cost for the hashes the plugin makes (`sync_security` sets passwords
            # through its API): only Lantern's generated component passwords exist here.
            "plugins.security.password.hashing.bcrypt.rounds": str(COMPONENT_BCRYPT_ROUNDS),
            "plugins.security.authcz.admin_dn": json.dumps([ADMIN_DN]),
            "plugins.security.nodes_dn": json.dumps([NODE_DN]),
            # Lantern keeps its own tamper-evident audit; the plugin's would need an index.
            "plugins.security.audit.type": "noop",
            "plugins.security.system_indices.enabled": "true",
            # Lets `sync_security` (admin certificate only) keep config.yml in step on upgrade.
            "plugins.security.unsupported.restapi.allow_securityconfig_modification": "true",
        }
    )
    return lines


# ------------------------------------------------------------------------- the plugin


def _artifact(jar: str) -> str:
    """``netty-codec-http-4.1.125.Final.jar`` -> ``netty-codec-http`` (name without version)."""
    m = re.match(r"^(.+?)-\d[^/]*\.jar$", jar)
    return m.group(1) if m else jar.removesuffix(".jar")


def install_plugin(plugin_zip: Path, home: Path, classpath: Iterable[str]) -> Path:
    """Unzip the security plugin into ``<home>/plugins`` minus the jars already on the classpath.

    PluginsService refuses a plugin whose jars duplicate classes of the parent class loader
    ("jar hell"); the launcher's flat classpath already carries netty, the HTTP clients and
    the module jars the plugin bundles. Which ones is computed from the resolved classpath,
    so a version bump needs no list to be kept in step.
    """
    target = home / "plugins" / PLUGIN_NAME
    stamp = target / ".lantern-installed"
    on_classpath = {_artifact(Path(p).name) for p in classpath if p.endswith(".jar")}
    # Reinstall when the zip or the classpath changes (the jars to drop depend on both).
    fingerprint = f"{plugin_zip.stat().st_mtime_ns} {' '.join(sorted(on_classpath))}"
    if stamp.exists() and stamp.read_text() == fingerprint:
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as zf:
        for member in zf.namelist():
            if member.endswith("/"):
                continue
            top = member.split("/", 1)[0]
            if member.endswith(".jar") and "/" not in member and _artifact(member) in on_classpath:
                continue
            # The plugin's sample config (demo users and passwords) and tools are not needed.
            if top in {"config", "tools"}:
                continue
            dest = (target / member).resolve()
            if not dest.is_relative_to(target.resolve()):
                raise ValueError(f"unsafe path in plugin zip: {member}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
    stamp.write_text(fingerprint)
    return target
