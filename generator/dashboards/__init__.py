"""The render stage for Grafana, beside rules/ between plan and check in the flow load ->
validate -> build -> plan -> render -> check -> write: one dashboard per service from its
model and plans (service), the fleet overview and the provisioning file (overview), and
the glue to grafana-foundation-sdk they share (grafana): queries through the PromQL
printer, units, thresholds, panel ids hashed from stable names, one JSON encoding. Panels
read the series the rules record, so they show what the alerts see.
"""
