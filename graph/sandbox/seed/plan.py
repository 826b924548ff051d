"""What to generate (:class:`SeedPlan`) and the shape of what comes out (:data:`Record`).

Every other module of the package reads these two, so they sit apart from all of them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, TypeAlias

Record: TypeAlias = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """What to generate: the same plan always gives the same records."""

    seed: int = 1
    customers: int = 1000
    today: datetime.date = field(default_factory=datetime.date.today)
    base_url: str = "http://127.0.0.1:8100"  # hrefs are absolute
