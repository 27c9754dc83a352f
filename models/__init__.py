"""PyTorch / PyG models: StrucHIS, its ablations and baselines, and a registry by name."""
