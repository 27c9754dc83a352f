"""Prefect deployments (prefect.yaml) and a local `serve` entry point."""
