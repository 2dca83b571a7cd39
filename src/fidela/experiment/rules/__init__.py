"""Pure experiment rules: deterministic assignment and the statistics of results."""
