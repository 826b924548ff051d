"""Metrics (Prometheus) for the gateway."""

from .metrics import Metrics

__all__ = ["Metrics"]
