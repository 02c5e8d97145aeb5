"""Faults: one module per family, each with inject / revert / is_active, and the fault ledger.

Importing this package registers the built-in faults, so ``make_fault(kind, params)``
finds every kind:

==================  ================  ====================================================
kind                scenario          what it does
==================  ================  ====================================================
bad-release         high-error-rate   deploys a revision failing a share of enrollments
pool-exhaustion     high-error-rate   a report job locks ``enrollments``, idle in transaction
missing-index       high-latency      drops the index of the hot course-statistics query
cache-outage        high-latency      freezes (SIGSTOP) or stops Redis
primary-crash       database-down     SIGKILLs the primary PostgreSQL server
connection-limit    database-down     a runaway client takes every connection slot
leaky-feature       memory-leak       turns on the leaky ``recommendations_cache`` flag
leaky-release       memory-leak       deploys a revision whose new code leaks memory
==================  ================  ====================================================
"""

from chaosdrill.faults import cache, connections, database, memory, release
from chaosdrill.faults.base import REGISTRY, Fault, make_fault, register
from chaosdrill.faults.ledger import (
    FaultLedger,
    LedgerEntry,
    applied,
    default_ledger_path,
    exit_signals,
    recover_environment,
)

__all__ = [
    "REGISTRY",
    "Fault",
    "FaultLedger",
    "LedgerEntry",
    "applied",
    "cache",
    "connections",
    "database",
    "default_ledger_path",
    "exit_signals",
    "make_fault",
    "memory",
    "recover_environment",
    "register",
    "release",
]
