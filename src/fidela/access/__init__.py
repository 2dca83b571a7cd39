"""Access: API keys with scopes, the principals the API acts for."""
