"""Proof that the alerts fire, built after render for `promspec test` (runtests) and never
part of out/: promtool unit tests per service (render, laid out by templates/tests.yml.j2
from the data in proofdata). SLO scenarios come from a model of how Prometheus evaluates
the SLO rules (scenarios, promsim); threshold, capacity, freshness, expiry and absence
scenarios from running the rendered rules over synthetic series (check_scenarios, rulesim,
series) in a small PromQL evaluator (promeval), with annotations expanded as Prometheus
does (promtemplate). promtool then checks every expectation against Prometheus itself.
"""
