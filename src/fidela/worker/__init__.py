"""The worker shell: drains the outbox and runs scheduled jobs (``fidela worker``)."""
