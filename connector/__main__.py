"""`python -m connector` runs the CLI."""

from connector.cli import main

main()
