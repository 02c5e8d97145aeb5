"""The command line: one module per command group, one app object (:mod:`.app`)."""
