"""Passkeys (WebAuthn) for the desk, with the `webauthn` package: register one while signed
in, then sign in with it and no mail. The relying party is SITE_URL's host."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import current_app, session
from sqlalchemy import select
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from newsletter.columns import utcnow
from newsletter.desk.admins import Admin, is_admin
from newsletter.desk.models import Passkey
from newsletter.extensions import db

CHALLENGE = "desk_passkey_challenge"


class PasskeyRefused(ValueError):
    """A passkey ceremony that did not succeed; the message is a sentence for the page."""


def relying_party() -> tuple[str, str]:
    """(rp id, origin) from SITE_URL: the browser checks both against the page."""
    parts = urlsplit(current_app.config["SITE_URL"])
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def passkeys_of(email: str) -> list[Passkey]:
    """The passkeys an admin registered, oldest first."""
    query = select(Passkey).where(Passkey.email == email).order_by(Passkey.id)
    return list(db.session.execute(query).scalars())


def registration_options(admin: Admin) -> str:
    """The options for navigator.credentials.create(), as JSON; the challenge stays here."""
    rp_id, _ = relying_party()
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=current_app.config["SITE_TITLE"],
        user_name=admin.email,
        user_id=admin.email.encode(),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=key.credential_id) for key in passkeys_of(admin.email)
        ],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    session[CHALLENGE] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def _challenge() -> bytes:
    challenge = session.pop(CHALLENGE, None)
    if not challenge:
        raise PasskeyRefused("The passkey request had expired. Try again.")
    return base64url_to_bytes(challenge)


def register(admin: Admin, credential: str, name: str) -> Passkey:
    """Check the authenticator's answer and keep the new credential."""
    rp_id, origin = relying_party()
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=_challenge(),
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except WebAuthnException as error:
        raise PasskeyRefused(f"The passkey was not registered: {error}") from None
    key = Passkey(
        email=admin.email,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=(name or "").strip()[:100] or "Passkey",
    )
    db.session.add(key)
    db.session.commit()
    return key


def sign_in_options() -> str:
    """Options for navigator.credentials.get(): any passkey of this site (discoverable)."""
    rp_id, _ = relying_party()
    options = generate_authentication_options(
        rp_id=rp_id, user_verification=UserVerificationRequirement.PREFERRED
    )
    session[CHALLENGE] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def sign_in(credential: str) -> Admin:
    """The admin whose passkey answered the challenge, or PasskeyRefused."""
    challenge = _challenge()
    try:
        raw_id = base64url_to_bytes(json.loads(credential)["rawId"])
    except (ValueError, KeyError, TypeError):
        raise PasskeyRefused("The browser's answer was not a passkey.") from None
    key = db.session.execute(
        select(Passkey).where(Passkey.credential_id == raw_id)
    ).scalar_one_or_none()
    if key is None or not is_admin(key.email):
        raise PasskeyRefused("This passkey is not registered here. Sign in with a mailed link.")
    rp_id, origin = relying_party()
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
        )
    except WebAuthnException as error:
        raise PasskeyRefused(f"The passkey did not sign in: {error}") from None
    key.sign_count, key.last_used_at = verified.new_sign_count, utcnow()
    db.session.commit()
    return Admin(key.email)


def remove(admin: Admin, key_id: int) -> None:
    """Forget one of the admin's passkeys."""
    key = db.session.get(Passkey, key_id)
    if key is not None and key.email == admin.email:
        db.session.delete(key)
        db.session.commit()
