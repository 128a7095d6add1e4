"""The command line for the rejects queue, deletions and service accounts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from indexer import cli as indexer_cli
from indexer.service_accounts import ServiceAccounts
from lantern.records import record_id
from lantern.settings import Settings
from tests.indexer.conftest import count, crime, read_ndjson, write_ndjson


@pytest.fixture
def app(isettings: Settings, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setattr(indexer_cli, "get_settings", lambda: isettings)
    app = typer.Typer()
    indexer_cli.register(app)
    return app


def test_retry_rejects_and_delete_from_the_command_line(
    app: typer.Typer, client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    runner = CliRunner()
    feed = write_ndjson(tmp_path / "f.ndjson", [crime(1), crime(2, status="reopened"), crime(3)])
    rejects = tmp_path / "rejects.ndjson"
    first = runner.invoke(
        app, ["index", "load", str(feed), "--no-entities", "--no-alerts", "--rejects", str(rejects)]
    )
    assert first.exit_code == 1, first.output
    assert "unchanged" in first.output and "stale" in first.output  # the summary's new columns
    # Neither files nor a rejects file, or both: a usage error.
    assert runner.invoke(app, ["index", "load"]).exit_code == 2
    both = runner.invoke(app, ["index", "load", str(feed), "--retry-rejects", str(rejects)])
    assert both.exit_code == 2
    # Still failing: exit 1, the row is named, and a new rejects file holds it.
    retry = runner.invoke(
        app, ["index", "load", "--retry-rejects", str(rejects), "--no-entities", "--no-alerts"]
    )
    assert retry.exit_code == 1, retry.output
    # The table wraps a long path at the terminal's width: compare without the line breaks.
    assert "0 of 1 rejected row(s) now pass" in retry.output and f"{feed}:2" in "".join(retry.output.split())
    # Fixed in the rejects file itself: it passes.
    [row] = read_ndjson(rejects)
    row["raw"]["status"] = "filed"
    write_ndjson(rejects, [row])
    fixed = runner.invoke(
        app, ["index", "load", "--retry-rejects", str(rejects), "--no-entities", "--no-alerts"]
    )
    assert fixed.exit_code == 0, fixed.output
    assert "1 of 1 rejected row(s) now pass" in fixed.output
    assert count(client, isettings) == 3

    gone = runner.invoke(app, ["index", "delete", "TEST-CRIMES", "C-2", "--reason", "duplicate"])
    assert gone.exit_code == 0, gone.output
    assert record_id("TEST-CRIMES", "C-2") in gone.output and count(client, isettings) == 2
    assert runner.invoke(app, ["index", "delete", "TEST-CRIMES", "C-1", "--reason", "oops"]).exit_code == 2


def test_service_accounts_from_the_command_line(
    app: typer.Typer, client: OpenSearch, isettings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the account table on one line per account
    runner = CliRunner()
    created = runner.invoke(app, ["ingest-account", "create", "CUSTODY-SYS", "--types", "custody,intel"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    accounts = ServiceAccounts(client, isettings)
    assert accounts.verify(token).problem is None
    assert (
        runner.invoke(app, ["ingest-account", "create", "CUSTODY-SYS", "--types", "custody"]).exit_code == 2
    )
    assert runner.invoke(app, ["ingest-account", "create", "X", "--types", "parking"]).exit_code == 2
    rotated = runner.invoke(app, ["ingest-account", "rotate", "custody-sys"])
    assert rotated.exit_code == 0, rotated.output
    assert accounts.verify(token).problem == "unknown or revoked token"
    assert accounts.verify(rotated.output.strip().splitlines()[-1]).problem is None
    listed = runner.invoke(app, ["ingest-account", "list"])
    assert "custody-sys" in listed.output and token.rsplit("_", 1)[1] not in listed.output
    assert runner.invoke(app, ["ingest-account", "disable", "custody-sys"]).exit_code == 0
    assert "disabled" in (accounts.verify(rotated.output.strip().splitlines()[-1]).problem or "")
    changed = runner.invoke(app, ["ingest-account", "set-types", "custody-sys", "--types", "custody"])
    assert changed.exit_code == 0 and accounts.get("custody-sys").record_types == ("custody",)  # type: ignore[union-attr]
    assert json.dumps(client.get(index=isettings.index_name("service_accounts"), id="custody-sys")["_source"])
