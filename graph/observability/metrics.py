"""The gateway's Prometheus metrics, one registry per app (tests run several apps at once).

Names and labels are an interface others rely on (see ../shared/design.md):
``csm_backend_requests_total{api,method,status}``, ``csm_backend_request_seconds{api,method}``,
``csm_graphql_requests_total{channel,outcome}``, ``csm_graphql_request_seconds{channel}``,
``csm_cache_requests_total{cache,result}``. Live updates add ``csm_live_subscriptions`` and
``csm_events_total{stage,outcome}`` (:meth:`Metrics.watch_live`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.backend_requests = Counter(
            "csm_backend_requests_total",
            "Requests the gateway sent to a backend API.",
            ("api", "method", "status"),
            registry=self.registry,
        )
        self.backend_seconds = Histogram(
            "csm_backend_request_seconds",
            "Duration of backend requests.",
            ("api", "method"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.graphql_requests = Counter(
            "csm_graphql_requests_total",
            "GraphQL operations served, by channel and outcome (ok, error, partial).",
            ("channel", "outcome"),
            registry=self.registry,
        )
        self.graphql_seconds = Histogram(
            "csm_graphql_request_seconds",
            "Duration of GraphQL operations.",
            ("channel",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.audit_records = Counter(
            "csm_audit_records_total",
            "Agent-access records (TMF683 party interactions), by outcome: queued, written, "
            "retried (a failed attempt retried), spilled (to the spill file), lost.",
            ("outcome",),
            registry=self.registry,
        )
        self.cache_requests = Counter(
            "csm_cache_requests_total",
            "Cache lookups, by cache and result (hit, miss).",
            ("cache", "result"),
            registry=self.registry,
        )

    def observe_backend(self, api: str, method: str, status: str, seconds: float) -> None:
        self.backend_requests.labels(api, method, status).inc()
        self.backend_seconds.labels(api, method).observe(seconds)

    def observe_audit(self, outcome: str, count: int) -> None:
        self.audit_records.labels(outcome).inc(count)

    def watch_live(
        self,
        subscriptions: Callable[[], int],
        listener: Mapping[str, int],
        fanout: Mapping[str, int],
    ) -> None:
        """Report live updates: open subscriptions, and the tallies of the event listener
        (accepted, duplicates, refused, forged) and of the fan-out (received, duplicates,
        delivered, overflows), read when scraped."""
        self.registry.register(_LiveCollector(subscriptions, listener, fanout))

    def backend_request_count(self, method: str | None = None) -> int:
        """Backend requests so far, of one HTTP method or all (tests pin batching with it)."""
        total = 0.0
        for metric in self.backend_requests.collect():
            for sample in metric.samples:
                if sample.name == "csm_backend_requests_total" and (
                    method is None or sample.labels.get("method") == method
                ):
                    total += sample.value
        return int(total)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    def __init__(
        self,
        subscriptions: Callable[[], int],
        listener: Mapping[str, int],
        fanout: Mapping[str, int],
    ) -> None:
        self.subscriptions = subscriptions
        self.listener = listener
        self.fanout = fanout

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "csm_live_subscriptions",
            "GraphQL subscriptions listening to backend events on this replica.",
            value=self.subscriptions(),
        )
        events = CounterMetricFamily(
            "csm_events",
            "Backend events, by stage (listener, fanout) and outcome.",
            labels=("stage", "outcome"),
        )
        for stage, counts in (("listener", self.listener), ("fanout", self.fanout)):
            for outcome, count in sorted(counts.items()):
                events.add_metric((stage, outcome), count)
        yield events
