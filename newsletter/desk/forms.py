"""The desk's forms: each carries Flask-WTF's CSRF token, tied to the desk session."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, HiddenField, StringField
from wtforms.validators import DataRequired, Length


class AddressForm(FlaskForm):
    """One address: the sign-in request, a test send's recipient."""

    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)])


class ButtonForm(FlaskForm):
    """A form that is only a button (sign out, use a link, send, resume): the token alone."""


class ConfirmForm(FlaskForm):
    """A button behind a confirmation: the page repeats what will happen, the form its count."""

    expected = HiddenField()


class AddReaderForm(FlaskForm):
    """Add one reader, active at once or mailed a confirmation."""

    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)])
    confirmed = BooleanField("They already agreed: add them as active, without a mail")


class ImportForm(FlaskForm):
    """A CSV export of another service."""

    file = FileField("CSV file", validators=[FileRequired()])
    confirmed = BooleanField("These readers already opted in: add them as active")


class PasskeyNameForm(FlaskForm):
    """The name a new passkey is listed under."""

    name = StringField("Name of this passkey", validators=[Length(max=100)])
