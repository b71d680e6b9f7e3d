"""The spec stages, first in the flow load -> validate -> build -> plan -> render -> check ->
write: which files a run reads (inputs: spec discovery and the defaults and Alertmanager
files, kept free of heavy imports so the cache names the same inputs), reading them into
plain data that remembers the line of every value (load), checking each document against
the JSON Schema shipped in schema/ with did-you-mean messages (validate), applying the
built-in, organisation and service defaults (inherit), and turning the result into the
typed, immutable model with the checks that span fields (build, model). Every later stage
reads the model only, never YAML.
"""
