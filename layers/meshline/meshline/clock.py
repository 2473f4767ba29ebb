"""The one place handlers read the time, so the domain receives it as an input."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
