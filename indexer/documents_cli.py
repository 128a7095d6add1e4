"""``lantern documents ...``: document manifests, status, and retrying the failed ones.

Outside a feed load, documents are (re)derived by re-indexing their record from the copy kept
when it was last indexed with documents (``indexer.manifest.LinkStore``; never read back from
the records index, which only the access-filtered gateway reads): the record goes through the
same ``BatchIndexer`` as in a load, so its documents get its current markings, cached text is
reused, and only documents without cached text (the failed ones) are extracted again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from opensearchpy import OpenSearch
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from documents.ledger import Ledger
from indexer.manifest import LinkStore, read_manifest
from indexer.pipeline import BatchIndexer, Entry, LoadResult
from lantern.settings import Settings, get_settings
from mappings import records as records_index

console = Console(stderr=True)


def reindex_records(
    settings: Settings, client: OpenSearch, ids: Sequence[str]
) -> tuple[LoadResult, list[str]]:
    """Re-index records from the copies kept when they were last indexed with documents.

    Returns the counts and the ids with no copy (never indexed with documents: their feed must
    be loaded again, which picks manifest links up).
    """
    store = LinkStore(settings)
    total = LoadResult()
    missing: list[str] = []
    indexer = BatchIndexer(settings, client)
    try:
        for start in range(0, len(ids), settings.bulk_chunk_size):
            chunk = list(ids[start : start + settings.bulk_chunk_size])
            found = store.parents(chunk)
            missing += [rid for rid in chunk if rid not in found]
            # force: the record is unchanged by definition; its documents are what is re-derived.
            entries = [
                Entry(found[rid], source="(kept copy)", line=0, force=True) for rid in chunk if rid in found
            ]
            if entries:
                outcome = indexer.run(entries)
                outcome.result.problems = outcome.problems
                outcome.result.read = len(entries)
                total.add(outcome.result)
    finally:
        indexer.close()
    client.indices.refresh(index=settings.index_name(records_index.NAME))
    return total, missing


def _write_rejects(settings: Settings, rows: list[dict[str, Any]]) -> Path | None:
    if not rows:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = settings.state_dir / "rejects" / f"documents-{stamp}.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    return path


def _summary(result: LoadResult, started: float) -> str:
    elapsed = max(datetime.now(UTC).timestamp() - started, 1e-9)
    return (
        f"{result.indexed:,} record(s) re-indexed; documents: {result.documents:,} indexed "
        f"({result.document_pages:,} pages, {result.ocr_pages:,} by OCR, {result.documents_extracted:,} "
        f"extracted now), {result.documents_failed:,} failed; {result.documents / elapsed:,.1f} documents/s"
    )


def load_manifest(manifest: Path, settings: Settings, client: OpenSearch) -> int:
    started = datetime.now(UTC).timestamp()
    try:
        links, problems = read_manifest(manifest, settings)
    except (ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 2
    store = LinkStore(settings)
    for rid, att in links:
        store.add(rid, att, str(manifest))
    ids = list(dict.fromkeys(rid for rid, _ in links))
    result, missing = reindex_records(settings, client, ids)
    rejects = [
        {
            "source": str(manifest),
            "line": p.line,
            "kind": "rejected",
            "errors": [{"msg": p.message}],
            "raw": p.raw,
        }
        for p in problems
    ] + [{**p.as_json(), "source": str(manifest)} for p in result.problems]
    path = _write_rejects(settings, rejects)
    console.print(f"{len(links):,} link(s) registered from {manifest}; {len(problems):,} row(s) rejected")
    console.print(_summary(result, started), highlight=False)
    if missing:
        console.print(
            f"{len(missing):,} record(s) not yet indexed with documents: their documents are indexed "
            "when their feed is next loaded (lantern index load ...)"
        )
    if path is not None:
        console.print(f"rejected rows and failed documents written to {path}")
    return 0 if not problems and result.ok else 1


def retry_failed(settings: Settings, client: OpenSearch) -> int:
    started = datetime.now(UTC).timestamp()
    ledger = Ledger(settings.state_dir / "documents.sqlite")
    failed = ledger.rows(status="failed", limit=1_000_000)
    ids = list(dict.fromkeys(r.record_id for r in failed if r.record_id))
    if not ids:
        console.print("no failed documents")
        return 0
    console.print(f"retrying {len(failed):,} failed document(s) of {len(ids):,} record(s)")
    result, missing = reindex_records(settings, client, ids)
    path = _write_rejects(settings, [p.as_json() for p in result.problems])
    console.print(_summary(result, started), highlight=False)
    if missing:
        console.print(f"{len(missing):,} record(s) no longer have documents; nothing to retry for them")
    if path is not None:
        console.print(f"still failing: {path}")
    return 0 if result.ok else 1


def print_status(settings: Settings, limit: int = 20) -> None:
    ledger = Ledger(settings.state_dir / "documents.sqlite")
    counts = ledger.counts()
    table = Table("queued", "extracted", "ocr", "failed", title="documents")
    table.add_row(*(f"{counts[k]:,}" for k in ("queued", "extracted", "ocr", "failed")))
    Console().print(table)
    failed = ledger.rows(status="failed", limit=limit)
    if failed:
        t = Table("record", "document", "reason", title=f"latest {len(failed)} failure(s)")
        for r in failed:
            t.add_row(r.record_id or "-", r.name, f"{r.error_code}: {r.error}")
        Console().print(t)


def register(app: typer.Typer) -> None:
    docs_app = typer.Typer(no_args_is_help=True, help="Attached documents: manifests, status, retries")
    app.add_typer(docs_app, name="documents")

    def _client(settings: Settings) -> OpenSearch:
        from lantern.search_client import make_client

        return make_client(settings, "ingest")

    @docs_app.command("load")
    def documents_load(
        manifest: Path = typer.Argument(..., help="manifest.csv next to the files it lists"),
    ) -> None:
        """Link the files of a manifest to their records and index them."""
        settings = get_settings()
        raise typer.Exit(load_manifest(manifest, settings, _client(settings)))

    @docs_app.command("retry")
    def documents_retry() -> None:
        """Extract the failed documents again (only those) and index the ones that now work."""
        settings = get_settings()
        raise typer.Exit(retry_failed(settings, _client(settings)))

    @docs_app.command("status")
    def documents_status(limit: int = typer.Option(20, help="Failures to list")) -> None:
        """Counts per status (queued, extracted, ocr, failed) and the latest failures."""
        print_status(get_settings(), limit)
