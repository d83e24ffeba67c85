"""Benchmarks: each runs its baseline in the same process and prints figures and ratios last."""
