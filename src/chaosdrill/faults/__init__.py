"""Faults: one module per family, each with inject / revert / is_active."""

from chaosdrill.faults.base import REGISTRY, Fault, make_fault, register

__all__ = ["REGISTRY", "Fault", "make_fault", "register"]
