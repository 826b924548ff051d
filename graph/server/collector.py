"""The garbage collector, set for a server process: fewer, cheaper collections.

A request allocates tens of thousands of container objects (decoded records, result trees),
nearly all freed by reference counting; with CPython's default threshold (700) the collector
still runs a young-generation pass every few hundred allocations, several per request. And
every full collection walks the whole heap -- mostly the schema, the modules and their caches,
which live as long as the process. So, once the app is built: what exists then is frozen (the
collector never walks it again, :func:`gc.freeze`), and the young generation is collected less
often. Cycles that requests leave behind are few since the loaders are released at the end of
each operation (:mod:`graph.schema.release`), so the higher threshold costs little memory
(bench/memory.py measures it).
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["tune_collector"]

THRESHOLDS: Final = (20_000, 20, 20)


def tune_collector() -> None:
    """Call once per process, after start-up and before serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
