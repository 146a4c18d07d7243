"""Benchmarks: each prints figures measured in one run, and their ratios. Not tests."""
