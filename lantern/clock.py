"""One spelling of "now" and of timestamps, for every store and the audit chain."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def today_utc() -> date:
    return utcnow().date()


def iso(value: datetime) -> str:
    """UTC ISO-8601 with microseconds and a ``Z``: one spelling, so hashes are stable."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
