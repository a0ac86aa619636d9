"""The sign-up form: one address field, plus a honeypot that only bots fill."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import ValidationError

from newsletter.subscribers.addresses import InvalidAddress, normalise_address


class SubscribeForm(FlaskForm):
    """Sign-up form; its CSRF token comes from the session like every Flask-WTF form."""

    email = EmailField("Email address")
    website = StringField("Leave this field empty")  # the honeypot: hidden from people by CSS

    def validate_email(self, field: EmailField) -> None:
        """Apply the list's own address rules, so the form and the CLI refuse the same input."""
        try:
            normalise_address(field.data or "")
        except InvalidAddress as error:
            raise ValidationError(str(error)) from None

    def is_bot(self) -> bool:
        """True when the honeypot was filled in: a person never sees that field."""
        return bool((self.website.data or "").strip())
