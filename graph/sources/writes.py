"""Whether an operation has sent a write: the difference between "nothing happened" and "a
write may have landed" when something fails.

:func:`tracking_writes` gives the code it wraps a :class:`Writes` tally; every POST, PATCH or
DELETE a :class:`~graph.sources.client.TmfClient` sends within it (tasks it starts included:
the tally travels in a context variable) counts, *before* it is sent.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["Writes", "note_write", "tracking_writes"]


@dataclass(slots=True)
class Writes:
    sent: int = 0


_CURRENT: contextvars.ContextVar[Writes | None] = contextvars.ContextVar("writes", default=None)


@contextmanager
def tracking_writes() -> Iterator[Writes]:
    writes = Writes()
    token = _CURRENT.set(writes)
    try:
        yield writes
    finally:
        _CURRENT.reset(token)


def note_write() -> None:
    writes = _CURRENT.get()
    if writes is not None:
        writes.sent += 1
