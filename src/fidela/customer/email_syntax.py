"""Email address syntax: email-validator's answer, reached without it for plain addresses.

``email_validator.validate_email`` walks the address character by character (its split,
then UTS-46 checks on every character of the domain): 25-60 us an address, as much as the
rest of ingesting the event that named a new customer. Nearly every address is a plain
ASCII dot-atom at a domain that thousands of others share, so the domain is validated once
(memoised) and the local part by the library's own dot-atom pattern; anything else (quotes,
display names, non-ASCII, a domain that fails, an address near the length limit) goes to the
library, whose answer stays the reference: a test holds the two equal on generated
addresses.
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import ATEXT, CASE_INSENSITIVE_MAILBOX_NAMES, EMAIL_MAX_LENGTH

# The library's dot-atom local part (RFC 5322 3.2.3), then an ASCII hostname's characters.
_PLAIN = re.compile(rf"([{ATEXT}]+(?:\.[{ATEXT}]+)*)@([A-Za-z0-9.\-]+)\Z")
_DOMAIN_CACHE = 4_096


@lru_cache(maxsize=_DOMAIN_CACHE)
def _domain(domain: str) -> tuple[str, str] | None:
    """The domain as the library normalises it (Unicode and ASCII forms); None when the
    library refuses it, or refuses it at the shortest address (its error is then the
    library's to word)."""
    try:
        checked = validate_email("a@" + domain, check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


def _plain(address: str) -> str | None:
    """``local@domain`` as the library would normalise it, or None to ask the library."""
    match = _PLAIN.match(address)
    if match is None:
        return None
    local, domain = match.groups()
    if local.lower() in CASE_INSENSITIVE_MAILBOX_NAMES:  # RFC 2142: the library lowers these
        local = local.lower()
    forms = _domain(domain)
    if forms is None:
        return None
    normalised = f"{local}@{forms[0]}"
    longest = max(len(address), len(normalised.encode()), len(local) + 1 + len(forms[1]))
    # The library checks the length of the address as given, normalised and in ASCII.
    return normalised if longest <= EMAIL_MAX_LENGTH else None


def normalised_address(address: str) -> str:
    """``address`` (stripped already) normalised by the library's rules: the local part as
    given, the domain lower-cased (IDNA: in its Unicode form). Raises
    ``EmailNotValidError`` as the library does."""
    found = _plain(address)
    if found is not None:
        return found
    return validate_email(address, check_deliverability=False).normalized
