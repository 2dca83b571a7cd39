"""The transactional outbox: everything that leaves the process (an email, an SMS, a webhook,
a scheduled job) is a row written in the same transaction as the state change that caused it,
and delivered after commit by ``fidela worker``."""
