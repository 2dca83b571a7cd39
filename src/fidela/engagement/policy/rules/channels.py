"""Which channel reaches a recipient: their preferred one when they consented to it, else the
first consented channel of the fallback order."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def choose_channel(
    *,
    preferred: str | None,
    consented: Collection[str],
    fallback: Sequence[str],
    allowed: Collection[str] | None = None,
) -> str | None:
    """``allowed`` narrows the channels a message exists for (a campaign with only email and
    SMS content cannot go out as push); None when no consented channel remains."""

    def usable(channel: str) -> bool:
        return channel in consented and (allowed is None or channel in allowed)

    if preferred and usable(preferred):
        return preferred
    for channel in fallback:
        if usable(channel):
            return channel
    return None
