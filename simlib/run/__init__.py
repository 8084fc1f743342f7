"""Running a scenario: the runner, its executors, results, metrics and their intervals."""
