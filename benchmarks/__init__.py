"""Benchmark runners; their figures go to benchmarks/results/."""
