"""Prometheus metrics: what an operator watches (latency by route, jobs, imports, assessments,
money moves). One registry per process; served at `/metrics` to the local machine or a token."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUEST_SECONDS = Histogram(
    "gonghui_request_seconds",
    "Time to answer a request, by route template and method",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10),
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "gonghui_job_seconds",
    "Time a job run took, by job and outcome",
    ["job", "outcome"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
    registry=REGISTRY,
)
JOB_FAILURES = Counter("gonghui_job_failures", "Job runs that failed", ["job"], registry=REGISTRY)
IMPORTS = Counter(
    "gonghui_imports", "File imports, by kind and outcome", ["kind", "outcome"], registry=REGISTRY
)
IMPORTED_ROWS = Counter(
    "gonghui_imported_rows", "Rows in accepted imports, by kind", ["kind"], registry=REGISTRY
)
ASSESSMENTS = Counter(
    "gonghui_assessments", "Insurance assessments run", ["plan"], registry=REGISTRY
)
MONEY_MOVES = Counter(
    "gonghui_money_moves", "Wallet money requests, by kind and outcome", ["kind", "outcome"],
    registry=REGISTRY,
)  # fmt: skip
