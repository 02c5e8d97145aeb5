"""``python -m chaosdrill`` runs the CLI."""

from chaosdrill.cli import main

main()
