"""`python -m torchflow` runs the CLI."""

from torchflow.cli.main import main

main()
