"""Event ingestion: validation against a typed catalogue, idempotency on the business key,
in-transaction dispatch to subscribers, the customer timeline and raw-event retention."""
