"""The simulated logistics world: structure, daily dynamics, truth, defects and the landing writer."""
