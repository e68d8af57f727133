"""Benchmarks: each measures a baseline in the same run and prints ratios, never absolute times.

They are run by hand (`python -m bench.<name>`), not by CI: a timed test on a shared 2-core
machine would fail at random; a ratio against a baseline measured seconds earlier does not.
"""
