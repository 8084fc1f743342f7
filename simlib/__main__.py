"""``python -m simlib``: the same command line as ``simlib``."""

from simlib.cli import main

if __name__ == "__main__":
    main(prog_name="simlib")
