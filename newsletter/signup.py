"""The subscription routes: the form, confirmation and unsubscribe. Thin: rules live in
subscribers.py."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("signup", __name__)
