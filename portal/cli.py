"""``lantern serve``, ``lantern users ...`` and ``lantern audit ...``."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lantern.errors import AuditUnavailable
from lantern.search_client import make_client
from lantern.settings import Settings, get_settings

console = Console(stderr=True)
users_app = typer.Typer(no_args_is_help=True, help="Local user accounts")
audit_app = typer.Typer(no_args_is_help=True, help="The audit trail")

# Demo accounts: fixed passwords, for a demo on synthetic data only (refused in production).
DEMO_USERS: tuple[dict[str, Any], ...] = (
    {
        "username": "officer",
        "display_name": "PC Olivia Okafor",
        "roles": ["officer"],
        "units": ["RESPONSE"],
        "clearances": [],
        "password": "lantern-demo-officer",
    },
    {
        "username": "analyst",
        "display_name": "Arun Mehta (analyst)",
        "roles": ["analyst"],
        "units": ["INTEL", "GANGS", "DRUGS"],
        "clearances": ["intel", "intel_c", "covert"],
        "password": "lantern-demo-analyst",
    },
    {
        "username": "supervisor",
        "display_name": "DS Sarah Whitfield",
        "roles": ["supervisor", "officer"],
        "units": ["CID", "CSU", "SAPPHIRE", "CAIT"],
        "clearances": ["intel", "sexual_offence", "child_protection", "protected_person"],
        "password": "lantern-demo-supervisor",
    },
    {
        "username": "auditor",
        "display_name": "Aisha Rahman (audit)",
        "roles": ["auditor"],
        "units": ["PSD"],
        "clearances": [],
        "password": "lantern-demo-auditor",
    },
    {
        "username": "admin",
        "display_name": "Adam Clarke (ICT)",
        "roles": ["admin"],
        "units": [],
        "clearances": [],
        "password": "lantern-demo-admin",
    },
)


def _context(settings: Settings | None = None) -> Any:
    from portal.security.middleware import SecurityContext

    s = settings or get_settings()
    # User administration and audit verification/export are the OpenSearch admin's work
    # (the portal's own user may not create indices; the indexer's may not touch users).
    return SecurityContext.create(s, make_client(s, "admin"))


def _read_password(stdin: bool) -> str:
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(password)


def _audit(ctx: Any, action: str, username: str, outcome: str = "success", **details: Any) -> None:
    try:
        ctx.audit.record(None, action, target={"username": username}, outcome=outcome, details=details)
    except AuditUnavailable as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc


@users_app.command("add")
def users_add(
    username: str,
    role: list[str] = typer.Option(..., "--role", help="officer|analyst|supervisor|auditor|admin (repeat)"),
    unit: list[str] = typer.Option([], "--unit", help="unit code, e.g. CID (repeatable)"),
    clearance: list[str] = typer.Option([], "--clearance", help="sensitivity flag, intel, intel_c (repeat)"),
    display_name: str | None = typer.Option(None, "--display-name"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
    home_postcode: list[str] = typer.Option(
        [], "--home-postcode", help="where the user lives: searches for it are flagged (repeatable)"
    ),
) -> None:
    """Create a local account."""
    from lantern.users import UserError

    ctx = _context()
    password = _read_password(password_stdin)
    try:
        user = ctx.users.create(
            username,
            password,
            roles=role,
            units=unit,
            clearances=clearance,
            display_name=display_name,
            home_postcodes=home_postcode,
        )
    except UserError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    _audit(
        ctx,
        "account.create",
        user.username,
        roles=sorted(user.roles),
        units=sorted(user.units),
        clearances=sorted(user.clearances),
    )
    console.print(f"created {user.username}")


def _set_disabled(username: str, disabled: bool) -> None:
    from lantern.users import UserError, normalise_username

    ctx = _context()
    try:
        name = normalise_username(username)
        ctx.users.set_disabled(name, disabled)
    except UserError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    ended = ctx.sessions.delete_for_user(name) if disabled else 0
    _audit(ctx, "account.disable" if disabled else "account.enable", name, sessions_ended=ended)
    suffix = f"; ended {ended} session(s)" if ended else ""
    console.print(f"{'disabled' if disabled else 'enabled'} {name}{suffix}")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account and end its sessions at once."""
    _set_disabled(username, True)


@users_app.command("enable")
def users_enable(username: str) -> None:
    """Re-enable a disabled account."""
    _set_disabled(username, False)


@users_app.command("reset-password")
def users_reset_password(
    username: str,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
) -> None:
    """Set a new password and end the account's sessions."""
    from lantern.users import UserError, normalise_username

    ctx = _context()
    password = _read_password(password_stdin)
    try:
        name = normalise_username(username)
        ctx.users.set_password(name, password)
    except UserError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    ended = ctx.sessions.delete_for_user(name)
    _audit(ctx, "account.reset_password", name, sessions_ended=ended)
    console.print(f"password reset for {name}")


@users_app.command("list")
def users_list() -> None:
    """List accounts (never their password hashes)."""
    ctx = _context()
    table = Table("username", "display name", "roles", "units", "clearances", "status")
    for u in ctx.users.list():
        table.add_row(
            u.username,
            u.display_name,
            ", ".join(sorted(u.roles)),
            ", ".join(sorted(u.units)),
            ", ".join(sorted(u.clearances)),
            "disabled" if u.disabled else "active",
        )
    Console().print(table)


def demo_accounts_text(specs: Sequence[Mapping[str, Any]]) -> str:
    lines = ["Lantern demo accounts", ""]
    for spec in specs:
        lines += [
            f"{spec['username']}",
            f"  password:   {spec['password']}",
            f"  roles:      {', '.join(spec['roles'])}",
            f"  units:      {', '.join(spec['units']) or '-'}",
            f"  clearances: {', '.join(spec['clearances']) or '-'}",
            "",
        ]
    return "\n".join(lines)


@users_app.command("demo")
def users_demo() -> None:
    """Create the demo accounts (idempotent) and print how to sign in. Not in production."""
    settings = get_settings()
    if settings.env == "production":
        console.print(
            "[red]error:[/red] demo accounts have published passwords; refused when LANTERN_ENV=production"
        )
        raise typer.Exit(1)
    ctx = _context(settings)
    for spec in DEMO_USERS:
        if ctx.users.get(spec["username"]) is None:
            ctx.users.create(
                spec["username"],
                spec["password"],
                roles=spec["roles"],
                units=spec["units"],
                clearances=spec["clearances"],
                display_name=spec["display_name"],
            )
            _audit(ctx, "account.create", spec["username"], demo=True)
    # Plain lines, not a table: a table squeezed into 80 columns cut passwords off. One field
    # per line is readable and copyable at any terminal width.
    typer.echo(demo_accounts_text(DEMO_USERS))
    console.print(
        f"Sign in at http://{settings.portal_host}:{settings.portal_port}/login "
        "(demo only: these passwords are public)."
    )


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the keyed chain against the anchor; exit 1 at the first altered, inserted, removed,
    reordered or forged event, or when the anchor is missing, edited or behind."""
    ctx = _context()
    result = ctx.audit.verify()
    if result.orphans:
        # Not a broken chain: an append that lost its seq to another writer leaves the
        # disclosures it sent with its event; "who looked at X" leaves them out.
        n = sum(o.documents for o in result.orphans)
        console.print(
            f"[yellow]{n} orphan disclosure(s)[/yellow] bound to {len(result.orphans)} event(s) "
            "not in the chain (not counted by who looked at X or the export quota):"
        )
        for orphan in result.orphans[:20]:
            console.print(f"  {orphan.describe()}")
    if result.ok:
        console.print(f"audit chain OK: {result.checked} event(s), head seq {result.last_seq}")
        return
    console.print(f"[red]AUDIT CHAIN BROKEN[/red] at event {result.first_bad_seq}: {result.problem}")
    console.print(f"({result.checked} event(s) verified before the break)")
    raise typer.Exit(1)


@audit_app.command("rotate-key")
def audit_rotate_key() -> None:
    """Add a new audit MAC key and sign new events with it (old events keep their key id)."""
    from lantern.audit_anchor import AuditKeyError, rotate_keys

    settings = get_settings()
    try:
        new_id = rotate_keys(settings.audit_key_file)
    except AuditKeyError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"audit events are now signed with key {new_id} ({settings.audit_key_file})")


@audit_app.command("export")
def audit_export(
    out: Path = typer.Option(..., "--out", help="CSV file to write"),
    user: str | None = typer.Option(None, "--user"),
    action: str | None = typer.Option(None, "--action"),
    since: datetime | None = typer.Option(None, "--since", help="UTC, e.g. 2024-05-01"),
    until: datetime | None = typer.Option(None, "--until", help="UTC, exclusive"),
) -> None:
    """Export audit events (chain order) to CSV; the export itself is audited."""
    from portal.security.auditq import AuditFilter, build_query

    ctx = _context()
    flt = AuditFilter(
        user=user, action=action, since=since.date() if since else None, until=until.date() if until else None
    )
    _audit(ctx, "audit.export", "-", filters=flt.as_dict(), out=str(out))
    with out.open("w", newline="", encoding="utf-8") as fh:
        n = ctx.audit.export_csv(build_query(flt), fh, limit=ctx.settings.export_max_rows)
    console.print(f"wrote {n} event(s) to {out}")


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Forwarded headers: believed only from the proxies ``LANTERN_FORWARDED_ALLOW_IPS`` names.

    uvicorn's own default trusts X-Forwarded-For from 127.0.0.1, so anything that can reach
    the port from the same host could pick the client address the lockout counts and the
    audit records; with no proxies named, the address is the TCP peer's.
    """
    if not settings.forwarded_allow_ips:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(settings.forwarded_allow_ips)}


def serve(
    host: str | None = typer.Option(None, "--host"),
    port: int | None = typer.Option(None, "--port"),
    reload: bool = typer.Option(False, "--reload", help="restart on code changes (development)"),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="serve Prometheus /metrics on this port (default LANTERN_METRICS_PORT)"
    ),
) -> None:
    """Run the portal (uvicorn).

    Behind a TLS-terminating proxy, name it in LANTERN_FORWARDED_ALLOW_IPS so X-Forwarded-* is
    believed from it (and from nothing else).
    """
    import uvicorn

    from lantern.observability import configure_logging

    if metrics_port is not None:
        # Read by create_app in this process (uvicorn builds the app from the factory).
        os.environ["LANTERN_METRICS_PORT"] = str(metrics_port)
        get_settings.cache_clear()
    settings = get_settings()
    configure_logging(json=settings.log_json)
    uvicorn.run(
        # The composition root's app: the portal, with the indexer's ingest API beside it.
        "lantern.cli:serving_app",
        factory=True,
        host=host or settings.portal_host,
        port=port or settings.portal_port,
        reload=reload,
        server_header=False,
        log_config=None,  # uvicorn's loggers go through the JSON handler too
        access_log=False,  # the request log line (with its request id) is portal.observability's
        **uvicorn_options(settings),
    )


def worker() -> None:
    """Run queued background jobs (batch searches) until stopped; run one or more per deployment."""
    import signal
    import threading

    from lantern.observability import configure_logging, start_metrics_server
    from lantern.tracing import configure_tracing
    from portal.analyst.worker import run_forever

    settings = get_settings()
    configure_logging(json=settings.log_json)
    configure_tracing(settings, "worker")
    start_metrics_server(settings.metrics_port, settings.metrics_host)
    stop = threading.Event()
    # SIGTERM finishes the current chunk's write and stops; an unfinished job is leased again.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print("lantern worker: waiting for jobs (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        run_forever(make_client(settings, "serving"), settings, stop)


def register(app: typer.Typer) -> None:
    if getattr(app, "_lantern_portal_registered", False):
        return
    app._lantern_portal_registered = True  # type: ignore[attr-defined]
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    app.command("serve")(serve)
    app.command("worker")(worker)
