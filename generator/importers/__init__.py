"""`promspec import`, before the flow load -> validate -> build -> plan -> render -> check ->
write rather than in it: Sloth (sloth) and OpenSLO (openslo) specs converted into promspec
spec files, which then enter the flow at load like any other. What they share (common):
reducing a foreign SLI query to a selector, naming things the way promspec does, notes
for whatever cannot be carried over exactly, and printing the specs.
"""
