"""The gateway's Prometheus metrics, one registry per app (tests run several apps at once).

Names and labels are an interface others rely on (see ../shared/design.md):
``csm_backend_requests_total{api,method,status}``, ``csm_backend_request_seconds{api,method}``,
``csm_graphql_requests_total{channel,outcome}``, ``csm_graphql_request_seconds{channel}``,
``csm_cache_requests_total{cache,result}``. Live updates add ``csm_live_subscriptions`` and
``csm_events_total{stage,outcome}`` (:meth:`Metrics.watch_live`). Resilience adds
``csm_backend_retries_total{api}``, ``csm_backend_timeouts_total{api}``,
``csm_breaker_rejections_total{api}`` (:meth:`Metrics.observe_resilience`) and the gauge
``csm_breaker_state{api}``: 0 closed, 1 half-open, 2 open (:meth:`Metrics.watch_breakers`).
Guardrails add ``csm_rate_limited_total{channel}``, ``csm_guardrail_refusals_total{reason}``
and ``csm_rate_limit_fallbacks_total`` (checks answered without Redis).
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
            "Cache lookups, by cache (response, entity) and result (hit, miss, store, stale, "
            "error).",
            ("cache", "result"),
            registry=self.registry,
        )
        # Guardrails (graph/server/guardrails.py).
        self.rate_limited = Counter(
            "csm_rate_limited_total",
            "Operations refused with 429 by a rate limit, by channel (anonymous for callers "
            "without a token).",
            ("channel",),
            registry=self.registry,
        )
        self.guardrail_refusals = Counter(
            "csm_guardrail_refusals_total",
            "Requests refused by a guardrail before execution, by reason (document_size, "
            "aliases, selections, fields, batch, body_size, csrf, cors).",
            ("reason",),
            registry=self.registry,
        )
        self.rate_limit_fallbacks = Counter(
            "csm_rate_limit_fallbacks_total",
            "Rate-limit checks this replica answered alone because Redis did not.",
            registry=self.registry,
        )

        self._resilience = {
            "retry": Counter(
                "csm_backend_retries_total",
                "Backend reads tried again after a 5xx, a lost connection or a timeout.",
                ("api",),
                registry=self.registry,
            ),
            "timeout": Counter(
                "csm_backend_timeouts_total",
                "Backend calls that ran out of time: the API's timeout or the operation's "
                "deadline.",
                ("api",),
                registry=self.registry,
            ),
            "rejection": Counter(
                "csm_breaker_rejections_total",
                "Backend calls refused without a request because the API's breaker was open.",
                ("api",),
                registry=self.registry,
            ),
        }

    def observe_backend(self, api: str, method: str, status: str, seconds: float) -> None:
        self.backend_requests.labels(api, method, status).inc()
        self.backend_seconds.labels(api, method).observe(seconds)

    def observe_resilience(self, api: str, event: str) -> None:
        """A backend call's ``retry``, ``timeout`` or breaker ``rejection``."""
        counter = self._resilience.get(event)
        if counter is not None:
            counter.labels(api).inc()

    def watch_breakers(self, states: Callable[[], Mapping[str, str]]) -> None:
        """Report each API's breaker state (closed, half_open, open), read when scraped."""
        self.registry.register(_BreakerCollector(states))

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


_BREAKER_LEVELS = {"closed": 0, "half_open": 1, "open": 2}


class _BreakerCollector(Collector):
    def __init__(self, states: Callable[[], Mapping[str, str]]) -> None:
        self.states = states

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "csm_breaker_state",
            "Each backend API's circuit breaker: 0 closed, 1 half-open, 2 open.",
            labels=("api",),
        )
        for api, state in sorted(self.states().items()):
            gauge.add_metric((api,), _BREAKER_LEVELS.get(state, 2))
        yield gauge


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
