"""Loaders of public benchmarks (DBLP) used by benchmarks and tests."""
