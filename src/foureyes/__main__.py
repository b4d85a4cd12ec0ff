"""`python -m foureyes` runs the command line."""

from foureyes.cli import main

main()
