"""``lantern serve``, ``lantern users ...`` and ``lantern audit ...``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
