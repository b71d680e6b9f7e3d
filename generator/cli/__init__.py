"""The command line around the flow load -> validate -> build -> plan -> render -> check ->
write: the click commands generate, validate, check, test, explain and schema with their
exit codes and cache use (main, whose `main` is the `promspec` entry point), the options
choosing output formats (formats), how results, problems, warnings and progress are
printed for people and for machines (output), and `promspec import` (imports), loaded
only when that command is named.
"""
