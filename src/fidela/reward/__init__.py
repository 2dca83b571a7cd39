"""Reward catalogue, stock, redemption, vouchers, cancellation and charity."""
