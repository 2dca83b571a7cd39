"""Idempotency-Key support for mutating API calls: the first response is stored with a
fingerprint of its request; a replay with the same key returns it, a different request under
the same key is a conflict."""
