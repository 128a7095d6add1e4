"""A command's error is printed as text: an engine log tail full of ``[...]`` (OpenSearch's
own log format) must not be read as console markup and crash the message that explains it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lantern import embedded
from lantern.cli import app
from lantern.errors import LauncherError


def test_a_start_failure_with_brackets_in_its_log_tail_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    tail = "[2026-11-30T12:00:00][WARN ][o.o.e.NodeEnvironment] low disk on [/ (/dev/vda)]"

    def fail(*_: object, **__: object) -> None:
        raise LauncherError(f"OpenSearch did not become healthy within 180s. Log tail:\n{tail}")

    monkeypatch.setattr(embedded, "start", fail)
    res = CliRunner().invoke(app, ["opensearch", "start"])
    assert res.exit_code == 1, res.output
    assert "did not become healthy" in res.output
    assert "[/ (/dev/vda)]" in res.output
