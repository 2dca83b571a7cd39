"""Customer data platform: profiles, identities and merge, consent, GDPR rights."""
