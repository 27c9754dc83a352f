"""Offer recommenders: CIGF (CIGCN + MESI), its ablations and the baselines, by name."""
