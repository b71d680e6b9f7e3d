"""promspec: compile service specs into Prometheus rules and Grafana dashboards, proven
with promtool.

pipeline.py runs the flow, stage after stage: load -> validate -> build (spec/) -> plan
(slo/) -> render (rules/, dashboards/; PromQL built with promql/) -> check -> write
(outputs/). proofs/ proves the alerts with promtool unit tests (`promspec test`),
importers/ converts other tools' SLO specs, cli/ is the command line. Shared by all:
conventions (every generated name), errors, units, parallel.
"""

__version__ = "0.1.0"
