"""The last stages of the flow load -> validate -> build -> plan -> render -> check -> write:
promtool and amtool prove the rendered rule files and Alertmanager configuration (check),
and out/ is replaced as a whole, atomically, only when every stage succeeded (write).
The run cache (cache) and the per-spec-file cache (spec_cache) remember what out/ must
hold, so `check` answers without compiling and `generate` compiles only the spec files
that changed.
"""
