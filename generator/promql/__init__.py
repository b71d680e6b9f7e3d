"""PromQL for the build and render stages, not a stage of its own: fragments written in specs
are parsed, checked for shape, merged with the service selector and printed back by the
parser (fragments), so user text is never pasted into a rule; and PromQL as data
(expr): expression nodes, a converter from the parser's tree and the one printer every
rule and dashboard query goes through (one line when it fits, else one operand per line).
"""
