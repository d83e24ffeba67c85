"""`python -m stripe_cio` runs the command line."""

from .cli import main

main()
