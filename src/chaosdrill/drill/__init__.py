"""The drill: its settings and state, the phases, the result, the engine and its worker.

One path for every entry point: a resolved :class:`~chaosdrill.scenarios.spec.DrillSpec`
is what :mod:`.setup` starts from: it opens the
environment, :mod:`.engine` runs the experiment through Chaos Toolkit (whose chaosdrill
activities call :mod:`.phases`), and :mod:`.result` turns what was measured into a typed
:class:`~chaosdrill.drill.model.DrillResult`. Plans, the gate and the pytest plugin run each
drill in a child process through :mod:`.worker`.
"""
