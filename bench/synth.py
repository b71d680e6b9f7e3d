"""Synthetic specs for benchmarks: N services, each like a typical production service.

Per service: 4 SLOs (one ratio, one latency, one gauge indicator, and one ratio grouped
by a label), 6 threshold alerts and 2 capacity rules. Every service differs in names
and selectors, so nothing can be shared between services by accident. Written at bench
time into a temporary directory; never committed.
"""

from __future__ import annotations

from pathlib import Path

DEFAULTS = """\
version: promspec/v1
kind: defaults
team: sre
runbook_base_url: https://runbooks.example.com/promspec
tiers:
  standard: 99.9
  premium: 99.95
capacity:
  headroom: {warning: 30, critical: 20}
presets:
  cpu:
    description: CPU utilisation
    expr: 100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))
    warning: 70
    critical: 85
    unit: percent
"""

SERVICE = """\
version: promspec/v1
service: {name}
team: team-{team}
tier: {tier}
labels: {{env: prod}}
selector: {{job: {name}}}
slos:
  - name: availability
    indicator:
      ratio:
        errors: http_requests_total{{code=~"5.."}}
        total: http_requests_total
    alerting:
      min_traffic: 100
  - name: latency
    objective: 99
    period: 28d
    indicator:
      latency:
        histogram: http_request_duration_seconds
        threshold: 300ms
        buckets: [0.1, 0.3, 1]
  - name: probe
    objective: 99.9
    period: 7d
    indicator:
      gauge:
        metric: probe_success
  - name: per_route
    objective: 99.5
    group_by: [route]
    indicator:
      ratio:
        good: rpc_requests_total{{status="ok"}}
        total: rpc_requests_total
thresholds:
  - name: cpu_high
    use: cpu
    for: 5m
  - name: memory_high
    description: Memory utilisation
    expr: 100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)
    warning: 75
    critical: 90
    unit: percent
  - name: latency_p95
    quantile: {{histogram: http_request_duration_seconds, quantile: 0.95}}
    warning: 500ms
  - name: queue_depth
    expr: sum(queue_depth{{queue="{name}-jobs"}})
    warning: 1000
    critical: 5000
    for: 10m
  - name: cache_hit_ratio_low
    expr: sum(rate(cache_hits_total[5m])) / sum(rate(cache_requests_total[5m]))
    direction: below
    warning: 0.85
    unit: ratio
    for: 15m
  - name: open_connections
    expr: sum(db_connections_open)
    critical: 900
capacity:
  - name: disk
    usage: >-
      node_filesystem_size_bytes{{mountpoint="/"}}
      - node_filesystem_avail_bytes{{mountpoint="/"}}
    limit: node_filesystem_size_bytes{{mountpoint="/"}}
    unit: bytes
    exhaustion: {{within: 4h}}
  - name: replicas
    usage: kube_deployment_status_replicas{{deployment="{name}"}}
    limit: 20
"""


def service_name(i: int) -> str:
    return f"svc-{i:04d}"


def write_specs(root: Path, services: int) -> Path:
    """A specs directory like a large infra repo's: defaults plus one file per service."""
    specs = root / "specs"
    specs.mkdir(parents=True)
    (specs / "_defaults.yaml").write_text(DEFAULTS)
    for i in range(services):
        name = service_name(i)
        text = SERVICE.format(name=name, team=i % 17, tier=("standard", "premium")[i % 2])
        (specs / f"{name}.yaml").write_text(text)
    return specs
