"""`python -m cli` runs the command line."""

from .root import main

main()
