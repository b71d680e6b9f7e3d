"""The plan stage, between build and render in the flow load -> validate -> build -> plan ->
render -> check -> write: the SLO math, pure and free of I/O (plan). From the model of a
service it derives each SLO's burn-rate tiers and factors, the windows and how each is
recorded from back-to-back copies of a shorter one, detection times and budget alert
times, and warnings about tiers that can never fire; rules, dashboards, proofs and
`promspec explain` read these plans instead of doing the math again.
"""
