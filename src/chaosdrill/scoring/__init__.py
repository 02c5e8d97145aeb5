"""The score of a drill (:mod:`.score`) and its severity, revenue impact and escalation."""
