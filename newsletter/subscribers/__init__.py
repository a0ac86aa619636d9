"""Subscribers: the table, the rules (sign up, confirm, leave, forget), signed tokens for the
links in emails, and imports and exports of the list.

May import `mail`, `content` and the root modules; never `sending`, `web` or `cli`.
"""
