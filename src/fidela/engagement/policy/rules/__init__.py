"""Pure send-time rules: caps, quiet hours, channel choice and the combined decision."""

from fidela.engagement.policy.rules.caps import CapRule, CapVerdict, PastSend, check_caps
from fidela.engagement.policy.rules.channels import choose_channel
from fidela.engagement.policy.rules.decision import (
    SendDecision,
    SendOutcome,
    SendPolicy,
    decide_send,
)
from fidela.engagement.policy.rules.errors import InvalidPolicy
from fidela.engagement.policy.rules.quiet_hours import QuietHours, release_time, zone_of

__all__ = [
    "CapRule",
    "CapVerdict",
    "InvalidPolicy",
    "PastSend",
    "QuietHours",
    "SendDecision",
    "SendOutcome",
    "SendPolicy",
    "check_caps",
    "choose_channel",
    "decide_send",
    "release_time",
    "zone_of",
]
