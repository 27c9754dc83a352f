"""The lead desk: a read-only web page over the published lead lists and a snapshot of the run records."""
