"""Prometheus metrics of one service instance (its own registry, so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rlvr_requests", "HTTP requests by endpoint and status code", ["endpoint", "code"], registry=self.registry
        )
        self.items = Counter("rlvr_items", "Items scored or verified", registry=self.registry)
        self.verdicts = Counter(
            "rlvr_verdicts", "Verdicts by verifier and status", ["verifier", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "rlvr_verifier_latency_seconds",
            "Time from dispatch to verdict, per item and verifier",
            ["verifier"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "rlvr_queue_depth", "Tasks waiting or in flight per verifier stream", ["verifier"], registry=self.registry
        )
        self.dead_letters = Gauge(
            "rlvr_dead_letters", "Entries in the dead-letter stream per verifier", ["verifier"], registry=self.registry
        )
        self.resent_jobs = Counter(
            "rlvr_resent_jobs",
            "Queue mode: jobs queued again because Redis lost their entries (restarted without persistence)",
            registry=self.registry,
        )
        self.live_workers = Gauge(
            "rlvr_live_workers",
            "Queue mode: workers of a verifier whose heartbeat is recent (RLVR_LIVE_WORKER_S)",
            ["verifier"],
            registry=self.registry,
        )
        self.restarts = Gauge(
            "rlvr_worker_process_restarts",
            "Verifier processes killed and replaced",
            ["verifier"],
            registry=self.registry,
        )

        self.backend_calls = Counter(
            "rlvr_backend_calls",
            "HTTP attempts to model backends by outcome (ok, retry, timeout, connect, http_429, http_5xx, http_4xx, "
            "bad_response, circuit_open)",
            ["backend", "outcome"],
            registry=self.registry,
        )
        self.model_failures = Counter(
            "rlvr_model_failures",
            "Items of the model-based verifiers left without a score, by verifier and kind of failure "
            "(timeout, http_5xx, truncated, unparseable, empty, circuit_open, ...)",
            ["verifier", "kind"],
            registry=self.registry,
        )

        self.auth_denied = Counter(
            "rlvr_auth_denied",
            "Requests refused for their API key, by status (401, 403) and key name (never the key itself)",
            ["code", "key"],
            registry=self.registry,
        )

    def backend_event(self, backend: str, outcome: str) -> None:
        self.backend_calls.labels(backend, outcome).inc()

    def model_failure(self, verifier: str, kind: str) -> None:
        self.model_failures.labels(verifier, kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
