"""The audit trail: who did what to which subject, when, and why."""
