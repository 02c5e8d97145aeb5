"""``python -m chaosdrill`` runs the CLI."""

from chaosdrill.cli.app import main

main()
