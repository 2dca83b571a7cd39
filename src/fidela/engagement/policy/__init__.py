"""Send-time policy: consent, frequency caps, quiet hours and channel choice.

The rules (``policy.rules``) are pure and take the clock and the recipient's timezone as
arguments; ``policy.service`` loads what they need (consent state, recent sends) set-based.
"""
