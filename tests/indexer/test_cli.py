"""The command line wiring: demo-data -> index init -> index load (twice) -> index migrate."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from indexer import cli as indexer_cli
from lantern import cli as lantern_cli
from lantern.settings import Settings
from tests.indexer.conftest import count, crime, write_ndjson


@pytest.fixture
def app(isettings: Settings, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setattr(indexer_cli, "get_settings", lambda: isettings)
    app = typer.Typer()
    indexer_cli.register(app)
    app.command("demo-data")(lantern_cli.demo_data)  # the composition root's command
    return app


def test_demo_data_loads_without_rejects_and_reloads_idempotently(
    app: typer.Typer, client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    runner = CliRunner()
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo-data", "--out", str(out), "--records", "60", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["index", "init"]).exit_code == 0
    files = sorted(str(p) for p in out.iterdir())
    first = runner.invoke(app, ["index", "load", *files, "--no-entities"])
    assert first.exit_code == 0, first.output
    assert count(client, isettings) == 60
    second = runner.invoke(app, ["index", "load", *files, "--no-entities"])
    assert second.exit_code == 0, second.output
    assert count(client, isettings) == 60
    migrated = runner.invoke(app, ["index", "migrate", "records"])
    assert migrated.exit_code == 0, migrated.output
    assert count(client, isettings) == 60
    assert runner.invoke(app, ["index", "migrate", "nope"]).exit_code == 2
    assert runner.invoke(app, ["index", "migrate", "records", "--outdated"]).exit_code == 2
    nothing = runner.invoke(app, ["index", "migrate", "--outdated"])
    assert nothing.exit_code == 0 and "outdated: none" in nothing.output, nothing.output


def test_migrate_outdated_moves_only_the_indices_whose_definition_changed(
    app: typer.Typer, client: OpenSearch, isettings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lantern import indices
    from mappings import disclosures, notifications

    runner = CliRunner()
    assert runner.invoke(app, ["index", "init"]).exit_code == 0
    before = {m: indices.current_index(client, isettings, m) for m in (disclosures, notifications)}
    monkeypatch.setattr(disclosures, "VERSION", disclosures.VERSION + 1)  # a new definition
    assert [m.NAME for m in indices.outdated(client, isettings)] == [disclosures.NAME]
    res = runner.invoke(app, ["index", "migrate", "--outdated"])
    assert res.exit_code == 0, res.output
    assert "outdated: disclosures" in res.output
    assert indices.outdated(client, isettings) == []
    assert indices.current_index(client, isettings, disclosures) != before[disclosures]
    assert indices.current_index(client, isettings, notifications) == before[notifications]


def test_load_exit_codes(app: typer.Typer, isettings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    # The indexer's OpenSearch user may not create indices: `index init` (admin) comes first.
    assert runner.invoke(app, ["index", "init"]).exit_code == 0
    feed = write_ndjson(tmp_path / "f.ndjson", [crime(1), "{oops"])
    rejects = tmp_path / "rejects.ndjson"
    res = runner.invoke(app, ["index", "load", str(feed), "--no-entities", "--rejects", str(rejects)])
    assert res.exit_code == 1
    assert rejects.exists()
    res = runner.invoke(app, ["index", "load", str(feed), "--no-entities", "--allow-rejects"])
    assert res.exit_code == 0
    missing = runner.invoke(app, ["index", "load", str(tmp_path / "nope.ndjson"), "--no-entities"])
    assert missing.exit_code == 2
