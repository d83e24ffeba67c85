"""`python -m cli` runs the command line."""

from .root import main

if __name__ == "__main__":  # not when a spawned process imports it
    main()
