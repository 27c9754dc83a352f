"""leadgraph: daily ranked, explained lead lists from multi-task heterogeneous graph models."""
