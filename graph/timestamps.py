"""Reading the dates and times TMF records carry, leniently: a value that is not one is None,
so an unexpected backend value never breaks a query or an action. Times without a zone are UTC.
"""

from __future__ import annotations

import datetime
from typing import Any

__all__ = ["parse_date", "parse_datetime"]


def parse_datetime(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def parse_date(value: Any) -> datetime.date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None
