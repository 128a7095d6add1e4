"""The ``lantern`` command line: the composition root.

Sub-command groups live next to the code they drive (``indexer.cli``, ``portal.cli``) and
are attached here; this module is the one place allowed to import upward (see the
import-linter contracts in pyproject.toml). ``demo-data`` is here because nothing else may
import the ``demo`` package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lantern import embedded
from lantern.errors import LauncherError
from lantern.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Lantern records portal")
opensearch_app = typer.Typer(no_args_is_help=True, help="The embedded OpenSearch node(s)")
app.add_typer(opensearch_app, name="opensearch")
gazetteer_app = typer.Typer(no_args_is_help=True, help="Postcode coordinates for the map and near:")
app.add_typer(gazetteer_app, name="gazetteer")
console = Console(stderr=True)


@opensearch_app.command("start")
def opensearch_start(
    nodes: int = typer.Option(1, "--nodes", min=1, max=5, help="JVMs forming one cluster"),
    port: int | None = typer.Option(None, "--port", help="HTTP port of the first node"),
) -> None:
    """Build the launcher if needed, start the node(s), wait for yellow health."""
    settings = get_settings()
    if port is not None:
        settings = settings.model_copy(update={"embedded_port": port})
    try:
        with console.status("starting OpenSearch..."):
            statuses = embedded.start(settings, nodes=nodes)
    except LauncherError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    _print_status(statuses)


@opensearch_app.command("stop")
def opensearch_stop() -> None:
    """Stop the embedded node(s): SIGTERM, then SIGKILL after a grace period."""
    stopped = embedded.stop(get_settings())
    console.print(f"stopped {stopped} node(s)" if stopped else "not running")


@opensearch_app.command("status")
def opensearch_status() -> None:
    """Say whether the embedded node(s) run, with version, pid and cluster health."""
    settings = get_settings()
    statuses = embedded.status(settings)
    _print_status(statuses)
    health = embedded.cluster_health(settings) if any(s.alive for s in statuses) else None
    if health:
        console.print(
            f"cluster {health.get('cluster_name')}: {health.get('status')}, "
            f"{health.get('number_of_nodes')} node(s), "
            f"{health.get('active_shards')} active shard(s)"
        )
    if not any(s.alive for s in statuses):
        raise typer.Exit(3)


def _print_status(statuses: list[embedded.NodeStatus]) -> None:
    table = Table("node", "state", "pid", "http", "version", "home")
    for s in statuses:
        version = f"{s.distribution} {s.version}" if s.version else "-"
        table.add_row(
            s.spec.name,
            "[green]running[/green]" if s.alive else "[red]stopped[/red]",
            str(s.pid or "-"),
            s.spec.url,
            version,
            str(s.spec.home),
        )
    Console().print(table)


@app.command("demo-data")
def demo_data(
    out: Path = typer.Option(..., "--out", help="Output directory"),
    records: int = typer.Option(5000, "--records", min=1, help="Number of records"),
    seed: int = typer.Option(42, "--seed", help="Random seed (same seed, same files)"),
) -> None:
    """Write linked synthetic feed files for all four record types (needs the dev extra)."""
    try:
        # Imported here: the generator needs Faker, a dev extra the product does not install.
        from demo.generator import generate
    except ModuleNotFoundError as exc:
        if exc.name != "faker":
            raise
        console.print(
            "[red]error:[/red] the demo-data generator needs the dev extra (Faker): "
            "pip install -e '.[dev]' (make install does this)"
        )
        raise typer.Exit(2) from exc
    out.mkdir(parents=True, exist_ok=True)
    counts = generate(out, records, seed)
    table = Table("file", "records")
    for name, n in counts.items():
        table.add_row(name, str(n))
    Console().print(table)


@app.command("demo-documents")
def demo_documents(
    feeds: Path = typer.Option(..., "--feeds", help="Demo feed folder (from `lantern demo-data`)"),
    count: int = typer.Option(24, "--count", min=1, help="Crime reports to give documents"),
    seed: int = typer.Option(42, "--seed"),
) -> None:
    """Give demo records statements and scanned pages (needs the dev extra: reportlab, Pillow)."""
    from demo.documents import attach_demo_documents

    settings = get_settings()
    summary = attach_demo_documents(feeds, settings.attachments_root, count=count, seed=seed)
    console.print(
        f"{summary['records_with_documents']} crime report(s) given statements/scans; "
        f"{summary['case_papers']} case paper(s) in "
        f"{settings.attachments_root / 'demo-case-papers' / 'manifest.csv'}"
    )
    console.print("VRMs that appear only inside a scanned page:")
    needles = summary["needles"]
    assert isinstance(needles, list)
    for n in needles:
        console.print(f"  {n['vrm']}  {n['record']} page {n['page']}  restricted={n['restricted']}")


def serving_app(settings: Settings | None = None) -> Any:
    """What ``lantern serve`` serves: the portal's app with the indexer's ingest API on it
    (its routes authenticate with service-account tokens, not sessions; both are in the
    portal's OpenAPI document). ``lantern ingest serve`` serves the ingest API alone."""
    from indexer.api import install as install_ingest
    from lantern.audit import AuditLog
    from lantern.search_client import make_client
    from portal.app import create_app

    app = create_app(settings)
    settings = app.state.settings
    client = make_client(settings, "ingest")
    install_ingest(app, settings, client, AuditLog(client, settings))
    return app


@gazetteer_app.command("load")
def gazetteer_load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV: postcode, latitude, longitude"),
    rejects: Path | None = typer.Option(None, "--rejects", help="Rejected rows (NDJSON, with the reason)"),
    allow_rejects: bool = typer.Option(False, "--allow-rejects", help="Exit 0 despite rejects"),
    postcode_column: str | None = typer.Option(None, "--postcode-column", help="default: postcode/pcds/pcd"),
    lat_column: str | None = typer.Option(None, "--lat-column", help="default: latitude/lat"),
    lon_column: str | None = typer.Option(None, "--lon-column", help="default: longitude/long/lon"),
) -> None:
    """Load postcode coordinates (ONS Postcode Directory or any CSV); bad rows go to the rejects file.

    Records get their points when they are (re)loaded: run `lantern index load` again after it.
    """
    from lantern import gazetteer
    from lantern.search_client import make_client

    settings = get_settings()
    if rejects is None:
        rejects = file.with_name(file.name + ".rejects.ndjson")
    try:
        summary = gazetteer.load_file(
            make_client(settings, "ingest"),
            settings,
            file,
            rejects=rejects,
            postcode_column=postcode_column,
            lat_column=lat_column,
            lon_column=lon_column,
        )
    except gazetteer.GazetteerFileError as exc:
        console.print(f"[red]error:[/red] {file}: {escape(str(exc))}")
        raise typer.Exit(2) from exc
    console.print(f"read {summary.read}, loaded {summary.loaded}, rejected {summary.rejected}")
    if summary.loaded:
        from alerts.percolation import reregister_near

        # Saved alerts with near: store the postcode's point: they measure from the new one.
        again = reregister_near(make_client(settings, "ingest"), settings)
        if again:
            console.print(f"saved searches with near: registered again: {again}")
    for code, n in sorted(summary.reasons.items()):
        console.print(f"  rejected {n}: {code}")
    for r in summary.samples[:5]:
        console.print(f"  line {r.line}: {r.reason}")
    if summary.rejected:
        console.print(f"rejected rows (with the reason) are in {rejects}")
        if not allow_rejects:
            raise typer.Exit(1)


@gazetteer_app.command("status")
def gazetteer_status() -> None:
    """How many postcodes the gazetteer holds."""
    from lantern import gazetteer
    from lantern.search_client import make_client

    settings = get_settings()
    console.print(
        f"{gazetteer.count(make_client(settings, 'ingest'), settings)} postcode(s) in the gazetteer"
    )


@app.command("demo-gazetteer")
def demo_gazetteer(
    feeds: Path = typer.Option(..., "--feeds", help="Demo feed folder (from `lantern demo-data`)"),
    out: Path = typer.Option(..., "--out", help="Gazetteer CSV to write"),
    seed: int = typer.Option(42, "--seed"),
) -> None:
    """A SYNTHETIC gazetteer for the demo's synthetic postcodes (made-up coordinates; dev extra)."""
    from demo.gazetteer import write_demo_gazetteer

    written, held_back = write_demo_gazetteer(feeds, out, seed=seed)
    console.print(
        f"{written} synthetic postcode coordinates written to {out} (not real locations); "
        f"{held_back} postcode(s) held back so the demo shows places the gazetteer does not know"
    )


@app.command("backup")
def backup_cmd(
    name: str | None = typer.Option(None, "--name", help="snapshot name (default: prefix + time)"),
) -> None:
    """Snapshot every index Lantern owns into the snapshot repository (see README, Operations)."""
    from lantern import backup
    from lantern.audit import AuditLog
    from lantern.search_client import make_client

    settings = get_settings()
    # Snapshot repositories, snapshots and (on restore) deleting and recreating indices are
    # cluster administration: only the OpenSearch admin's user may.
    client = make_client(settings, "admin")
    try:
        out = backup.backup(client, settings, name)
    except backup.BackupError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    AuditLog(client, settings).record(
        None, "system.backup", details={"snapshot": out.snapshot, "counts": out.counts}
    )
    for alias, n in out.counts.items():
        console.print(f"{alias}: {n:,} document(s)")
    console.print(f"snapshot {out.snapshot} taken in {out.seconds:.1f}s (audit head {out.audit_head})")


@app.command("restore")
def restore_cmd(
    snapshot: str | None = typer.Argument(None, help="snapshot name (default: the latest of this prefix)"),
    replace: bool = typer.Option(False, "--replace", help="delete live Lantern indices first"),
) -> None:
    """Restore a snapshot, check its counts, reconcile the audit anchor; then run `lantern audit verify`."""
    from lantern import backup
    from lantern.audit import AuditLog
    from lantern.search_client import make_client

    settings = get_settings()
    client = make_client(settings, "admin")  # as for backup
    try:
        out = backup.restore(client, settings, snapshot, replace=replace)
    except backup.BackupError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    details: dict[str, object] = {
        "snapshot": out.snapshot,
        "counts": out.counts,
        "audit_head": out.audit_head,
    }
    if out.lost_audit_events:
        details["lost_audit_events"] = out.lost_audit_events
        details["anchor_archive"] = str(out.anchor_archive)
    AuditLog(client, settings).record(None, "system.restore", details=details)
    for alias, n in out.counts.items():
        console.print(f"{alias}: {n:,} document(s)")
    console.print(f"restored {out.snapshot} in {out.seconds:.1f}s; audit chain head {out.audit_head}")
    if out.lost_audit_events:
        console.print(
            f"[yellow]{out.lost_audit_events} audit event(s) written after the backup are gone; "
            f"the previous anchor is kept at {out.anchor_archive}[/yellow]"
        )


def _register_optional_groups() -> None:
    """Attach the command groups of the top-layer packages."""
    from indexer.cli import register as register_indexer
    from indexer.documents_cli import register as register_documents
    from indexer.persons_cli import register as register_persons
    from portal.cli import register as register_portal

    register_indexer(app)
    register_documents(app)
    register_persons(app)
    register_portal(app)


def main() -> None:
    _register_optional_groups()
    app()
