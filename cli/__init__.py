"""The `mediaops` command line: the top of the stack, the one place that may import every layer."""
