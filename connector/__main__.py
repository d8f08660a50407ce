"""`python -m connector` runs the CLI."""

from connector.setup.cli import main

main()
