"""The list's rules for an address: what it takes and the one form it stores.

Plain functions without the database, so the sign-up form (built on every page worker) checks
an address without loading SQLAlchemy; email-validator itself loads with the first address.
"""

from __future__ import annotations

import unicodedata

from flask import current_app

MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a forward path, minus the angle brackets
MAX_LOCAL_PART_LENGTH = 64  # RFC 5321, section 4.5.3.1.1


class InvalidAddress(ValueError):
    """An address the list will not take; the message is a sentence for the form."""


def normalise_address(raw: str) -> str:
    """The stored form of an address: trimmed, domain lower-cased and IDNA-encoded."""
    address = (raw or "").strip()
    if not address:
        raise InvalidAddress("Enter your email address.")
    if len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress("This address is longer than 254 characters; check it and retry.")
    if any(unicodedata.category(char) == "Cc" for char in address):
        raise InvalidAddress("This address contains a line break or a control character.")
    if address.count("@") != 1:
        raise InvalidAddress("An email address has exactly one @, as in name@example.org.")
    result = _validated(address)
    if len(result.local_part) > MAX_LOCAL_PART_LENGTH:
        raise InvalidAddress(
            "The part before the @ is longer than 64 characters, more than mail servers "
            "accept; check the address and retry."
        )
    normalised = f"{result.local_part}@{result.ascii_domain.lower()}"
    if len(normalised) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress("This address is longer than 254 characters; check it and retry.")
    return normalised


def _validated(address: str):
    """email-validator's verdict on an address, as a sentence for the form when it says no."""
    # Imported here: a worker that only serves pages never loads it (bench/startup.py).
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(
            address,
            check_deliverability=bool(current_app.config["EMAIL_CHECK_DELIVERABILITY"]),
            # A non-ASCII mailbox name needs SMTPUTF8, which most servers and Flask-Mail lack.
            allow_smtputf8=False,
        )
    except EmailNotValidError as error:
        raise InvalidAddress(f"This is not a valid email address: {error}") from None
