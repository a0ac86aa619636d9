"""Passkeys on the desk: the list and registration while signed in; sign-in with one."""

from __future__ import annotations

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from newsletter.desk import passkeys as keys
from newsletter.desk.blueprint import sign_in
from newsletter.desk.forms import ButtonForm, PasskeyNameForm


def _json(body: str) -> Response:
    return Response(body, mimetype="application/json")


def passkeys():
    """The admin's passkeys, and a button to register one on this device."""
    return render_template(
        "desk/passkeys.html",
        keys=keys.passkeys_of(current_user.email),
        form=PasskeyNameForm(),
        remove_form=ButtonForm(),
    )


def passkey_options():
    """Options for registering a passkey (JSON for navigator.credentials.create())."""
    return _json(keys.registration_options(current_user))


def passkey_register():
    """Keep the passkey the browser created."""
    try:
        form = request.form
        key = keys.register(current_user, form.get("credential", ""), form.get("name", ""))
    except keys.PasskeyRefused as error:
        return jsonify(ok=False, message=str(error)), 400
    flash(f"The passkey “{key.name}” is registered: next time, sign in with it.")
    return jsonify(ok=True, next=url_for("desk.passkeys"))


def passkey_remove(key_id: int):
    """Forget one passkey."""
    keys.remove(current_user, key_id)
    flash("The passkey was removed.")
    return redirect(url_for("desk.passkeys"), 303)


def passkey_sign_in_options():
    """Options for signing in with a passkey (JSON for navigator.credentials.get())."""
    return _json(keys.sign_in_options())


def passkey_sign_in():
    """Sign in with the passkey that answered."""
    try:
        admin = keys.sign_in(request.form.get("credential", ""))
    except keys.PasskeyRefused as error:
        return jsonify(ok=False, message=str(error)), 400
    sign_in(admin)
    return jsonify(ok=True, next=url_for("desk.overview"))
