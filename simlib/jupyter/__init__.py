"""Notebooks: kernels, papermill execution in worker processes, and helpers used inside notebooks."""
