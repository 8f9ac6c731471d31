"""Prometheus metrics of a server: requests and latency histograms per endpoint, scenario and status, in a
registry of its own per app (several apps in one process never share counters).

Shapes:
    (no tensors) ServeMetrics.observe(endpoint, scenario, status, seconds); render() -> (bytes, content type)
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServeMetrics:
    """The server's counters (``unisr_requests_total``), latency histograms (``unisr_request_seconds``)
    and the served generation (``unisr_generation``, bumped by hot reloads)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("unisr_requests", "HTTP requests", ["endpoint", "scenario", "status"],
                                registry=self.registry)
        self.latency = Histogram("unisr_request_seconds", "request latency (s)", ["endpoint", "scenario"],
                                 buckets=BUCKETS, registry=self.registry)
        self.generation = Gauge("unisr_generation", "served bundle generation", registry=self.registry)

    def observe(self, endpoint: str, scenario: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, scenario, str(status)).inc()
        self.latency.labels(endpoint, scenario).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
