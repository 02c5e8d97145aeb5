"""``python -m chaosdrill`` runs the CLI."""

from chaosdrill.cli.main import main

main()
