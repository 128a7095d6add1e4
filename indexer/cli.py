"""``lantern index ...`` and ``lantern demo-data``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    index_app = typer.Typer(no_args_is_help=True, help="Index definitions and feed loading")
    app.add_typer(index_app, name="index")
