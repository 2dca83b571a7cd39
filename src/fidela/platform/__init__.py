"""Technical foundations shared by every context: settings, database, outbox and job runner,
logging and metrics. No business rules live here."""
