"""Batches of notebook runs: planning, claiming output folders, running in parallel, resuming."""
