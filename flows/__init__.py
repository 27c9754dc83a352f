"""Prefect flows that wire the stage tasks together, and the `leadgraph` CLI."""
