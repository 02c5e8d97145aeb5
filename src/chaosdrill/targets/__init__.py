"""Targets: the services chaosdrill drills. ``revenue_engine`` is the reference one."""
