"""Pure journey rules: the definition format and its validation, conditions, and the step
machine that advances one customer's run."""
