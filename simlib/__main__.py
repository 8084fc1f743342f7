"""``python -m simlib``: the same command line as ``simlib``."""

from simlib.cli.main import main

if __name__ == "__main__":
    main(prog_name="simlib")
