"""The executor of the schema with its optimizations on: the fast path, and live updates.

:class:`~graph.schema.subscription.LiveExecutor` runs each subscription event in the context
its delivery carries (``build_per_event_executor``); :class:`FastExecutor` only changes how
fields complete. Both are kept: with the optimizations off the schema uses ``LiveExecutor``
alone, exactly as before.
"""

from __future__ import annotations

from graph.execution.fast import FastExecutor
from graph.schema.subscription import LiveExecutor

__all__ = ["FastLiveExecutor"]


class FastLiveExecutor(FastExecutor, LiveExecutor):
    """Fields completed by :class:`FastExecutor`, events delivered by :class:`LiveExecutor`."""
