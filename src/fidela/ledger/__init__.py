"""Points ledger: accounts, lots, allocations, expiry, returns and liability."""
