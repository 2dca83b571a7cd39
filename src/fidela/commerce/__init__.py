"""Commerce: the orders, order lines and returns that ``order.*`` events record. Loyalty
earning, clawback and analytics read them."""
