"""The render stage for Prometheus, after plan and before check in the flow load -> validate
-> build -> plan -> render -> check -> write: the SLO rule groups built as expression data
(slo), laid out and worded by the Jinja templates, checked against the rule-file schema
and dumped canonically (render), then written for each ruler, plain rule files,
PrometheusRule, Mimir and Thanos (formats), with an Alertmanager route tree for the fleet
(alertmanager). explain words the same alerts for people (`promspec explain`).
"""
