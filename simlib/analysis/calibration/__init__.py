"""Calibration to history, one module per kind of fit; :mod:`simlib.analysis.calibrate` chains them."""
