"""promspec: compile service specs into Prometheus rules, proven with promtool.

The pipeline, one module per stage:
load -> validate -> model -> plan -> render -> check -> write.
"""

__version__ = "0.1.0"
