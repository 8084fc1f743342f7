"""Decision tools built on runs: sweeps, optimisation, sensitivity, calibration, recommendation."""
